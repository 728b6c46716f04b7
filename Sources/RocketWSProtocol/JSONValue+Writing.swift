/// Writing a `JSONValue` as JSON text: compact or indented, object keys sorted or not; strings through
/// ``JSONString``. A non-finite double (only from a number too large for a `Double`) is written `1e999` or
/// `-1e999`, which parses back to the same value.
extension JSONValue: CustomStringConvertible {
    /// Compact JSON with sorted keys.
    public var description: String { serialized() }

    /// The JSON text of this value.
    /// - Parameters:
    ///   - sortedKeys: sort object keys (stable output for tests and golden files).
    ///   - pretty: indent with two spaces, one member per line.
    public func serialized(sortedKeys: Bool = true, pretty: Bool = false) -> String {
        var bytes: [UInt8] = []
        write(into: &bytes, sortedKeys: sortedKeys, indent: pretty ? 0 : nil)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the compact JSON text of this value to `bytes`, object keys in sorted order.
    public func write(into bytes: inout [UInt8]) {
        write(into: &bytes, sortedKeys: true, indent: nil)
    }

    private func write(into out: inout [UInt8], sortedKeys: Bool, indent: Int?) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): out.append(contentsOf: String(value).utf8)
        case .double(let value):
            if value.isNaN {
                out.append(contentsOf: "null".utf8)
            } else if value.isInfinite {
                out.append(contentsOf: (value < 0 ? "-1e999" : "1e999").utf8)
            } else if value.rounded() == value, abs(value) < 1e15 {
                out.append(contentsOf: String(Int(value)).utf8)
            } else {
                out.append(contentsOf: "\(value)".utf8)
            }
        case .string(let value): JSONString.appendQuoted(value, to: &out)
        case .array(let elements):
            if elements.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                Self.newline(&out, indent.map { $0 + 1 })
                element.write(into: &out, sortedKeys: sortedKeys, indent: indent.map { $0 + 1 })
            }
            Self.newline(&out, indent)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            if members.isEmpty {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            let keys = sortedKeys ? members.keys.sorted() : Array(members.keys)
            for (offset, key) in keys.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                Self.newline(&out, indent.map { $0 + 1 })
                JSONString.appendQuoted(key, to: &out)
                out.append(contentsOf: (indent == nil ? ":" : ": ").utf8)
                members[key]!.write(into: &out, sortedKeys: sortedKeys, indent: indent.map { $0 + 1 })
            }
            Self.newline(&out, indent)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ out: inout [UInt8], _ indent: Int?) {
        guard let indent else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * indent))
    }
}
