import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension Bench {
    /// Wall-clock time in Unix nanoseconds (the `t` a bench emitter stamps into each message).
    public static func unixNanos() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int(spec.tv_sec) * 1_000_000_000 + Int(spec.tv_nsec)
    }

    /// Reads `seq` and `t` from a pushed bench message (`{"__type": ..., "seq": 12, "t": 1732...}`)
    /// without a full JSON parse; `nil` when the text has no integer `"seq"` member.
    public static func probe(_ buffer: ByteBuffer) -> (seq: Int, t: Int)? {
        buffer.withUnsafeReadableBytes { raw -> (seq: Int, t: Int)? in
            let bytes = raw.assumingMemoryBound(to: UInt8.self)
            guard let seq = Self.integer(after: Self.seqKey, in: bytes) else { return nil }
            return (seq, Self.integer(after: Self.timeKey, in: bytes) ?? 0)
        }
    }

    private static let seqKey: [UInt8] = Array("\"seq\"".utf8)
    private static let timeKey: [UInt8] = Array("\"t\"".utf8)

    private static func integer(after key: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let count = bytes.count
        guard count >= key.count else { return nil }
        var index = 0
        outer: while index <= count - key.count {
            for offset in 0..<key.count where bytes[index + offset] != key[offset] {
                index += 1
                continue outer
            }
            var cursor = index + key.count
            func skipSpace() {
                while cursor < count,
                    bytes[cursor] == 0x20 || bytes[cursor] == 0x09 || bytes[cursor] == 0x0A
                        || bytes[cursor] == 0x0D
                {
                    cursor += 1
                }
            }
            skipSpace()
            guard cursor < count, bytes[cursor] == UInt8(ascii: ":") else {
                index += 1
                continue
            }
            cursor += 1
            skipSpace()
            var value = 0
            var digits = 0
            while cursor < count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9"), digits < 19 {
                value = value * 10 + Int(bytes[cursor] - UInt8(ascii: "0"))
                cursor += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }
}
