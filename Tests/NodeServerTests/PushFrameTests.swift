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

    @Test func envelopeComesBeforeTheDataMembers() throws {
        let frame = PushFrame.make(data: ByteBuffer(string: #"{"message": "hola!"}"#), kind: .message, timestamp: 1_700_000_000, channel: "chat", allocator: .init())
        let (first, text) = decode(frame)
        #expect(first == 0x81)
        #expect(text == #"{"__type":"message","__ts":1700000000,"__channel":"chat","message": "hola!"}"#)
        let value = try JSONValue(parsing: text)
        #expect(value["__channel"] == .string("chat"))
    }

    /// A data member named like an envelope key must not win in parsers that keep the last of two equal keys:
    /// then the envelope goes last.
    @Test func envelopeGoesLastWhenTheDataMayHoldItsKeys() throws {
        let (_, text) = decode(PushFrame.make(data: ByteBuffer(string: #"{"a":1,"__type":"spoof"}"#), kind: .message, timestamp: 7, channel: "c", allocator: .init()))
        #expect(text == #"{"a":1,"__type":"spoof","__type":"message","__ts":7,"__channel":"c"}"#)
        let (_, quoted) = decode(PushFrame.make(data: ByteBuffer(string: #"{"s":"__x"}"#), kind: .broadcast, timestamp: 7, channel: nil, allocator: .init()))
        #expect(quoted == #"{"s":"__x","__type":"broadcast","__ts":7}"#)
        let (_, plain) = decode(PushFrame.make(data: ByteBuffer(string: #"{"s":"a__b","_":"_"}"#), kind: .broadcast, timestamp: 7, channel: nil, allocator: .init()))
        #expect(plain == #"{"__type":"broadcast","__ts":7,"s":"a__b","_":"_"}"#)
    }

    @Test func reservedKeyScan() {
        for (text, expected) in [(#"{}"#, false), (#"{"__"#, true), (#"{"a":"_","b":"__"}"#, true), (#"{"a":"b__"}"#, false), (#"{"x":"\"__"}"#, true), (#""__"#, true), (#""_"#, false)] {
            #expect(PushFrame.mayHoldReservedKey(ByteBuffer(string: text).readableBytesView) == expected, "\(text)")
        }
    }

    @Test func emptyObjectAndBroadcast() throws {
        let (_, text) = decode(PushFrame.make(data: ByteBuffer(string: "{ }"), kind: .broadcast, timestamp: 5, channel: nil, allocator: .init()))
        #expect(text == #"{"__type":"broadcast","__ts":5}"#)
    }

    @Test func channelNamesAreEscaped() throws {
        let (_, text) = decode(PushFrame.make(data: ByteBuffer(string: "{}"), kind: .message, timestamp: 1, channel: "a\"b\\c", allocator: .init()))
        #expect(try JSONValue(parsing: text)["__channel"] == .string("a\"b\\c"))
    }

    @Test(arguments: [10, 200, 70_000])
    func lengthEncodings(size: Int) throws {
        let data = "{\"p\":\"" + String(repeating: "x", count: size) + "\"}"
        let (_, text) = decode(PushFrame.make(data: ByteBuffer(string: data), kind: .message, timestamp: 1, channel: "c", allocator: .init()))
        #expect(try JSONValue(parsing: text)["p"]?.stringValue?.count == size)
    }
}
