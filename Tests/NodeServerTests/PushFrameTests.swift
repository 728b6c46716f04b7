import NIOCore
import Testing

@testable import NodeServer

@Suite struct PushFrameTests {
    /// Decodes a server frame: (fin+opcode byte, payload).
    private func decode(_ frame: ByteBuffer) -> (UInt8, String) {
        var frame = frame
        let first = frame.readInteger(as: UInt8.self)!
        var length = Int(frame.readInteger(as: UInt8.self)!)
        if length == 126 { length = Int(frame.readInteger(as: UInt16.self)!) } else if length == 127 { length = Int(frame.readInteger(as: UInt64.self)!) }
        #expect(frame.readableBytes == length)
        return (first, frame.readString(length: length)!)
    }

    @Test func splicesMetaKeysIntoTheDataObject() throws {
        let frame = PushFrame.make(data: ByteBuffer(string: #"{"message": "hola!"}"#), kind: .message, timestamp: 1_700_000_000, channel: "chat", allocator: .init())
        let (first, text) = decode(frame)
        #expect(first == 0x81)
        #expect(text == #"{"message": "hola!","__type":"message","__ts":1700000000,"__channel":"chat"}"#)
        let value = try JSONValue.parse(text)
        #expect(value["__channel"] == .string("chat"))
    }

    @Test func emptyObjectAndBroadcast() throws {
        let (_, text) = decode(PushFrame.make(data: ByteBuffer(string: "{ }"), kind: .broadcast, timestamp: 5, channel: nil, allocator: .init()))
        #expect(text == #"{"__type":"broadcast","__ts":5}"#)
    }

    @Test func channelNamesAreEscaped() throws {
        let (_, text) = decode(PushFrame.make(data: ByteBuffer(string: "{}"), kind: .message, timestamp: 1, channel: "a\"b\\c", allocator: .init()))
        #expect(try JSONValue.parse(text)["__channel"] == .string("a\"b\\c"))
    }

    @Test(arguments: [10, 200, 70_000])
    func lengthEncodings(size: Int) throws {
        let data = "{\"p\":\"" + String(repeating: "x", count: size) + "\"}"
        let (_, text) = decode(PushFrame.make(data: ByteBuffer(string: data), kind: .message, timestamp: 1, channel: "c", allocator: .init()))
        #expect(try JSONValue.parse(text)["p"]?.stringValue?.count == size)
    }
}
