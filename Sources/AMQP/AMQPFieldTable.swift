import NIOCore

/// A field-table value (AMQP 0-9-1 section 4.2.5.5, with the type letters RabbitMQ uses).
public indirect enum AMQPFieldValue: Equatable, Sendable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    /// IEEE 754 single, kept as its bit pattern so that values (NaN too) compare exactly.
    case float(bitPattern: UInt32)
    /// IEEE 754 double, kept as its bit pattern.
    case double(bitPattern: UInt64)
    case decimal(scale: UInt8, value: UInt32)
    case longString([UInt8])
    case array([AMQPFieldValue])
    case timestamp(UInt64)
    case table(AMQPFieldTable)
    case void
    case bytes([UInt8])

    /// A UTF-8 long string.
    public static func string(_ value: String) -> Self { .longString(Array(value.utf8)) }
}

/// An ordered AMQP field table: name -> value pairs, as on the wire.
public struct AMQPFieldTable: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    /// Deepest nesting of tables and arrays read; deeper input is refused (bounded stack on hostile input).
    public static let maxDepth = 16

    public var entries: [(name: String, value: AMQPFieldValue)]

    public init(_ entries: [(name: String, value: AMQPFieldValue)] = []) {
        self.entries = entries
    }

    public init(dictionaryLiteral elements: (String, AMQPFieldValue)...) {
        self.entries = elements.map { (name: $0.0, value: $0.1) }
    }

    /// The first value named `name`.
    public subscript(name: String) -> AMQPFieldValue? {
        entries.first { $0.name == name }?.value
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

extension ByteBuffer {
    mutating func readFieldTable(_ what: String, depth: Int = 0) throws(AMQPDecodingError) -> AMQPFieldTable {
        guard depth < AMQPFieldTable.maxDepth else { throw .nestingTooDeep }
        let length: UInt32 = try readAMQPInteger(what)
        guard length <= readableBytes, var body = readSlice(length: Int(length)) else { throw .truncated(what) }
        var table = AMQPFieldTable()
        while body.readableBytes > 0 {
            let name = try body.readShortString(what)
            let value = try body.readFieldValue(what, depth: depth)
            table.entries.append((name: name, value: value))
        }
        return table
    }

    mutating func readFieldValue(_ what: String, depth: Int) throws(AMQPDecodingError) -> AMQPFieldValue {
        let type: UInt8 = try readAMQPInteger(what)
        switch type {
        case UInt8(ascii: "t"): return .bool(try readAMQPInteger(what, as: UInt8.self) != 0)
        case UInt8(ascii: "b"): return .int8(try readAMQPInteger(what))
        case UInt8(ascii: "B"): return .uint8(try readAMQPInteger(what))
        case UInt8(ascii: "s"): return .int16(try readAMQPInteger(what))
        case UInt8(ascii: "u"): return .uint16(try readAMQPInteger(what))
        case UInt8(ascii: "I"): return .int32(try readAMQPInteger(what))
        case UInt8(ascii: "i"): return .uint32(try readAMQPInteger(what))
        case UInt8(ascii: "l"): return .int64(try readAMQPInteger(what))
        case UInt8(ascii: "f"): return .float(bitPattern: try readAMQPInteger(what))
        case UInt8(ascii: "d"): return .double(bitPattern: try readAMQPInteger(what))
        case UInt8(ascii: "D"): return .decimal(scale: try readAMQPInteger(what), value: try readAMQPInteger(what))
        case UInt8(ascii: "S"): return .longString(try readLongBytes(what))
        case UInt8(ascii: "x"): return .bytes(try readLongBytes(what))
        case UInt8(ascii: "T"): return .timestamp(try readAMQPInteger(what))
        case UInt8(ascii: "V"): return .void
        case UInt8(ascii: "F"): return .table(try readFieldTable(what, depth: depth + 1))
        case UInt8(ascii: "A"):
            guard depth + 1 < AMQPFieldTable.maxDepth else { throw .nestingTooDeep }
            let length: UInt32 = try readAMQPInteger(what)
            guard length <= readableBytes, var body = readSlice(length: Int(length)) else { throw .truncated(what) }
            var values: [AMQPFieldValue] = []
            while body.readableBytes > 0 { values.append(try body.readFieldValue(what, depth: depth + 1)) }
            return .array(values)
        default:
            throw .unknownFieldType(type)
        }
    }

    mutating func writeFieldTable(_ table: AMQPFieldTable) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        for (name, value) in table.entries {
            writeShortString(name)
            writeFieldValue(value)
        }
        setInteger(UInt32(writerIndex - lengthIndex - 4), at: lengthIndex, endianness: .big)
    }

    mutating func writeFieldValue(_ value: AMQPFieldValue) {
        func tag(_ letter: Unicode.Scalar) { writeInteger(UInt8(ascii: letter)) }
        switch value {
        case .bool(let v): tag("t"); writeInteger(UInt8(v ? 1 : 0))
        case .int8(let v): tag("b"); writeInteger(v)
        case .uint8(let v): tag("B"); writeInteger(v)
        case .int16(let v): tag("s"); writeBigEndian(v)
        case .uint16(let v): tag("u"); writeBigEndian(v)
        case .int32(let v): tag("I"); writeBigEndian(v)
        case .uint32(let v): tag("i"); writeBigEndian(v)
        case .int64(let v): tag("l"); writeBigEndian(v)
        case .float(let bits): tag("f"); writeBigEndian(bits)
        case .double(let bits): tag("d"); writeBigEndian(bits)
        case .decimal(let scale, let v): tag("D"); writeInteger(scale); writeBigEndian(v)
        case .longString(let bytes): tag("S"); writeLongBytes(bytes)
        case .bytes(let bytes): tag("x"); writeLongBytes(bytes)
        case .timestamp(let v): tag("T"); writeBigEndian(v)
        case .void: tag("V")
        case .table(let table): tag("F"); writeFieldTable(table)
        case .array(let values):
            tag("A")
            let lengthIndex = writerIndex
            writeInteger(UInt32(0))
            for element in values { writeFieldValue(element) }
            setInteger(UInt32(writerIndex - lengthIndex - 4), at: lengthIndex, endianness: .big)
        }
    }
}
