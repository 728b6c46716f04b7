/// Writing JSON strings, the one escaper of the package: `"` and `\` escaped, `\n` `\r` `\t` by name, other
/// control characters as `\u00XX`, everything else (all of UTF-8 above U+001F) verbatim.
public enum JSONString {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Whether `s` can be written between quotes as it is.
    public static func needsNoEscaping(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    /// Appends `"s"` with JSON escapes to `bytes`.
    public static func appendQuoted(_ s: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        appendEscaped(s, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends the escaped body of `s` (no quotes) to `bytes`.
    public static func appendEscaped(_ s: String, to bytes: inout [UInt8]) {
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
    }

    /// `"s"` with JSON escapes.
    public static func quoted(_ s: String) -> String {
        var bytes: [UInt8] = []
        appendQuoted(s, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The escaped body of `s` (no quotes), for text that is put between quotes elsewhere.
    public static func escaped(_ s: String) -> String {
        if needsNoEscaping(s) { return s }
        var bytes: [UInt8] = []
        appendEscaped(s, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
