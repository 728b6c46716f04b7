/// The kind of a JSON value, known from its first byte.
enum JSONKind: Equatable {
    case object, array, string, number, bool, null
}

/// A validating JSON scanner over raw bytes (RFC 8259). It skips a value and reports its byte range without
/// building anything: the message path uses ranges, so an emitted `data` object travels as the bytes it
/// arrived as. A tree, where one is needed off the message path, is `JSONValue(parsing:)` of a range; that
/// parser accepts exactly what this scanner accepts.
struct JSONScanner {
    /// Deepest nesting accepted; deeper input is a syntax error rather than a stack overflow.
    static let maxDepth = 256

    let bytes: UnsafeRawBufferPointer
    private(set) var index: Int

    init(_ bytes: UnsafeRawBufferPointer, from index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var isAtEnd: Bool { index >= bytes.count }

    @inline(__always) private func fail() -> JSONParseError { JSONParseError(offset: index, reason: "not valid JSON") }

    @inline(__always) mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    /// Consumes `byte` (after whitespace) or fails.
    mutating func expect(_ byte: UInt8) throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw fail() }
        index += 1
    }

    /// Consumes `byte` (after whitespace) when it is next.
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        if index < bytes.count, bytes[index] == byte {
            index += 1
            return true
        }
        return false
    }

    /// Fails unless only whitespace remains.
    mutating func expectEnd() throws(JSONParseError) {
        skipWhitespace()
        guard index == bytes.count else { throw fail() }
    }

    // MARK: Skipping (validation without building values)

    /// Validates the next value and returns its kind and byte range (whitespace excluded).
    mutating func skipValue(depth: Int = 0) throws(JSONParseError) -> (kind: JSONKind, range: Range<Int>) {
        skipWhitespace()
        guard index < bytes.count else { throw fail() }
        let start = index
        let kind: JSONKind
        switch bytes[index] {
        case UInt8(ascii: "{"):
            kind = .object
            guard depth < Self.maxDepth else { throw fail() }
            index += 1
            if !consume(UInt8(ascii: "}")) {
                repeat {
                    skipWhitespace()
                    try skipString()
                    try expect(UInt8(ascii: ":"))
                    _ = try skipValue(depth: depth + 1)
                } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"))
            }
        case UInt8(ascii: "["):
            kind = .array
            guard depth < Self.maxDepth else { throw fail() }
            index += 1
            if !consume(UInt8(ascii: "]")) {
                repeat {
                    _ = try skipValue(depth: depth + 1)
                } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "]"))
            }
        case UInt8(ascii: "\""):
            kind = .string
            try skipString()
        case UInt8(ascii: "t"):
            kind = .bool
            try literal("true")
        case UInt8(ascii: "f"):
            kind = .bool
            try literal("false")
        case UInt8(ascii: "n"):
            kind = .null
            try literal("null")
        default:
            kind = .number
            try skipNumber()
        }
        return (kind, start..<index)
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail() }
        let p = word.utf8Start
        for i in 0..<count where bytes[index + i] != p[i] { throw fail() }
        index += count
    }

    private mutating func skipNumber() throws(JSONParseError) {
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw fail() }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if isDigit(bytes[index]) {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        } else {
            throw fail()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail() }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail() }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
    }

    @inline(__always) private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// Skips a string at the current position; returns whether it held escapes.
    @discardableResult
    private mutating func skipString() throws(JSONParseError) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail() }
        index += 1
        var escaped = false
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                return escaped
            } else if b == UInt8(ascii: "\\") {
                escaped = true
                index += 1
                guard index < bytes.count else { throw fail() }
                switch bytes[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    guard index + 4 < bytes.count else { throw fail() }
                    for i in 1...4 where hexValue(bytes[index + i]) == nil { throw fail() }
                    index += 5
                default:
                    throw fail()
                }
            } else if b < 0x20 {
                throw fail()
            } else {
                index += 1
            }
        }
        throw fail()
    }

    @inline(__always) private func hexValue(_ b: UInt8) -> UInt16? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt16(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt16(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt16(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    // MARK: Decoding

    /// Reads a string value at the current position (after whitespace), decoding escapes.
    mutating func readString() throws(JSONParseError) -> String {
        skipWhitespace()
        let start = index
        let escaped = try skipString()
        let body = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(index - 1)])
        if !escaped { return String(decoding: body, as: UTF8.self) }
        return JSONString.unescaped(body)
    }

    /// Reads the next value of a member whose only valid kind is a string (`jsonrpc`, `method`, `channel`):
    /// a string decoded, any other value validated, skipped and given as `.null`.
    mutating func stringMember() throws(JSONParseError) -> JSONValue {
        if peek() == UInt8(ascii: "\"") { return .string(try readString()) }
        _ = try skipValue()
        return .null
    }
}
