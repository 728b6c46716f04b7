/// Strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), with an ASCII
/// fast path. WebSocket text frames and close reasons that fail it are closed with 1007 (RFC 6455 section 8.1).
enum UTF8Validation {
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        validPrefixLength(bytes) == bytes.count
    }

    /// The length of the leading complete code points of `bytes` when all of `bytes` may still be the start
    /// of valid UTF-8 (the end may cut a code point, as a fragment boundary does), nil when it cannot. Lets
    /// fragmented text messages fail fast (RFC 6455 8.1): each fragment is checked as it arrives.
    static func validPrefixLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            // ASCII fast path, eight bytes at a time.
            while i + 8 <= n, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
            guard i < n else { break }
            let b0 = bytes[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            let need: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lower = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: need = 2
            case 0xED: need = 2; upper = 0x9F
            case 0xF0: need = 3; lower = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; upper = 0x8F
            default: return nil
            }
            guard i + need < n else {
                // A code point cut by the end: valid so far if the bytes present can begin one.
                if i + 1 < n, bytes[i + 1] < lower || bytes[i + 1] > upper { return nil }
                var k = i + 2
                while k < n {
                    if bytes[k] & 0xC0 != 0x80 { return nil }
                    k += 1
                }
                return i
            }
            let b1 = bytes[i + 1]
            guard b1 >= lower, b1 <= upper else { return nil }
            for k in 2..<(need + 1) where bytes[i + k] & 0xC0 != 0x80 { return nil }
            i += need + 1
        }
        return n
    }

    static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        Array(bytes).withUnsafeBytes { isValid($0) }
    }
}
