/// Why bytes from the broker could not be read as AMQP 0-9-1. Each maps to the reply code the connection is
/// closed with (`replyCode`).
public struct AMQPDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    private enum Base: Equatable, Sendable {
        case protocolHeader
        case unknownFrameType(UInt8)
        case frameTooLarge(Int, limit: Int)
        case badFrameEnd(UInt8)
        case truncated(String)
        case trailingBytes(String)
        case unknownFieldType(UInt8)
        case nestingTooDeep
        case badHeartbeat
    }

    private let base: Base

    /// The broker answered our protocol header with its own: it does not speak AMQP 0-9-1.
    public static let protocolHeader = Self(base: .protocolHeader)
    /// A frame type other than method, header, body or heartbeat.
    public static func unknownFrameType(_ type: UInt8) -> Self { Self(base: .unknownFrameType(type)) }
    /// A frame whose payload is over the negotiated frame size.
    public static func frameTooLarge(_ size: Int, limit: Int) -> Self { Self(base: .frameTooLarge(size, limit: limit)) }
    /// The byte after a frame's payload is not 0xCE.
    public static func badFrameEnd(_ byte: UInt8) -> Self { Self(base: .badFrameEnd(byte)) }
    /// A method, header or field table ends before its fields do (`what` names the field).
    public static func truncated(_ what: String) -> Self { Self(base: .truncated(what)) }
    /// A method or header has bytes after its last field.
    public static func trailingBytes(_ what: String) -> Self { Self(base: .trailingBytes(what)) }
    /// A field-table value of a type AMQP 0-9-1 (RabbitMQ's variant) does not have.
    public static func unknownFieldType(_ type: UInt8) -> Self { Self(base: .unknownFieldType(type)) }
    /// Field tables or arrays nested deeper than `AMQPFieldTable.maxDepth`.
    public static let nestingTooDeep = Self(base: .nestingTooDeep)
    /// A heartbeat frame on a channel other than 0 or with a payload.
    public static let badHeartbeat = Self(base: .badHeartbeat)

    /// The connection-close reply code for this error: 501 frame-error or 502 syntax-error.
    public var replyCode: UInt16 {
        switch base {
        case .protocolHeader, .unknownFrameType, .frameTooLarge, .badFrameEnd, .badHeartbeat: 501
        case .truncated, .trailingBytes, .unknownFieldType, .nestingTooDeep: 502
        }
    }

    public var description: String {
        switch base {
        case .protocolHeader: "the broker does not speak AMQP 0-9-1 (it answered with its own protocol header)"
        case .unknownFrameType(let type): "unknown frame type \(type)"
        case .frameTooLarge(let size, let limit): "frame payload of \(size) bytes over the negotiated \(limit)"
        case .badFrameEnd(let byte): "frame end byte is \(byte), not 206"
        case .truncated(let what): "\(what) ends early"
        case .trailingBytes(let what): "\(what) has bytes after its last field"
        case .unknownFieldType(let type): "unknown field-table value type \(type)"
        case .nestingTooDeep: "field tables nested more than \(AMQPFieldTable.maxDepth) deep"
        case .badHeartbeat: "heartbeat frame not on channel 0 or not empty"
        }
    }
}
