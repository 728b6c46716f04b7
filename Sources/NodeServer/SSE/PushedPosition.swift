/// The stream position a pushed frame carries with history on: its `"__channel"`, `"__epoch"` and `"__offset"`
/// members, read from the frame's JSON without building it (values of other members are skipped).
struct PushedPosition: Equatable {
    let channel: String
    let position: StreamPositions.Position

    init(channel: String, position: StreamPositions.Position) {
        self.channel = channel
        self.position = position
    }

    /// nil when the JSON object lacks one of the three members (history off, a broadcast) or is not an object.
    init?(json bytes: UnsafeRawBufferPointer) {
        var scanner = JSONScanner(bytes)
        var channel: String?
        var epoch: String?
        var offset: Int?
        do {
            try scanner.expect(UInt8(ascii: "{"))
            if scanner.consume(UInt8(ascii: "}")) { return nil }
            repeat {
                let key = try scanner.skipValue()
                guard key.kind == .string else { return nil }
                try scanner.expect(UInt8(ascii: ":"))
                let name = UnsafeRawBufferPointer(rebasing: bytes[key.range])
                if Self.equals(name, "\"__channel\"") {
                    channel = try scanner.readString()
                } else if Self.equals(name, "\"__epoch\"") {
                    epoch = try scanner.readString()
                } else if Self.equals(name, "\"__offset\"") {
                    let value = try scanner.skipValue()
                    offset = value.kind == .number ? Int(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[value.range]), as: UTF8.self)) : nil
                } else {
                    _ = try scanner.skipValue()
                }
            } while scanner.consume(UInt8(ascii: ","))
        } catch {
            return nil
        }
        guard let channel, let epoch, let offset else { return nil }
        self.channel = channel
        self.position = StreamPositions.Position(epoch: epoch, offset: offset)
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount && memcmpEqual(bytes, text)
    }

    private static func memcmpEqual(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        let other = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        return bytes.elementsEqual(other)
    }
}
