/// The binary wire format of ``InterestMessage`` (format version 1).
///
/// All integers are big-endian. A string is `u8 length (1...255)` + UTF-8 bytes.
/// ```
/// message  = u8 formatVersion (1), u8 kind, body          ; no trailing bytes
/// kind 1 delta     : str owner, u64 epoch (>0), u64 fromVersion (>=1), u32 n (>=1), n x (u8 op, str channel)
///                    op: 1 = add, 2 = remove
/// kind 2 ack       : str owner, u64 epoch, u64 version
/// kind 3 digest    : u32 n, n x (str owner, u64 epoch, u64 version)
/// kind 4 syncReq   : str owner, u64 knownEpoch, u64 knownVersion
/// kind 5 snapshot  : str owner, u64 epoch (>0), u64 version, u32 index, u8 flags (bit 0 = last,
///                    other bits 0), u32 n, n x str channel
/// ```
enum InterestWire {
    static let formatVersion: UInt8 = 1

    enum Kind: UInt8 {
        case delta = 1
        case ack = 2
        case digest = 3
        case syncRequest = 4
        case snapshot = 5
    }

    static let opAdd: UInt8 = 1
    static let opRemove: UInt8 = 2

    static func stringSize(_ string: String) -> Int { 1 + string.utf8.count }
    static func opSize(_ op: InterestOp) -> Int { 1 + self.stringSize(op.channel) }
    static func deltaHeaderSize(owner: String) -> Int { 2 + self.stringSize(owner) + 8 + 8 + 4 }
    static func snapshotHeaderSize(owner: String) -> Int { 2 + self.stringSize(owner) + 8 + 8 + 4 + 1 + 4 }

    // MARK: Writing

    struct Writer {
        var bytes: [UInt8] = []

        mutating func u8(_ value: UInt8) { self.bytes.append(value) }

        mutating func u32(_ value: UInt32) {
            for shift in stride(from: 24, through: 0, by: -8) {
                self.bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
            }
        }

        mutating func u64(_ value: UInt64) {
            for shift in stride(from: 56, through: 0, by: -8) {
                self.bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            }
        }

        mutating func string(_ value: String) {
            let utf8 = value.utf8
            precondition(!utf8.isEmpty && utf8.count <= 255, "wire strings are 1...255 bytes")
            self.bytes.append(UInt8(utf8.count))
            self.bytes.append(contentsOf: utf8)
        }
    }

    // MARK: Reading

    /// A bounds-checked cursor; every read returns nil past the end instead of trapping.
    struct Reader {
        let bytes: [UInt8]
        var index = 0

        var remaining: Int { self.bytes.count - self.index }

        mutating func u8() -> UInt8? {
            guard self.remaining >= 1 else { return nil }
            defer { self.index += 1 }
            return self.bytes[self.index]
        }

        mutating func u32() -> UInt32? {
            guard self.remaining >= 4 else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                value = value << 8 | UInt32(self.bytes[self.index])
                self.index += 1
            }
            return value
        }

        mutating func u64() -> UInt64? {
            guard self.remaining >= 8 else { return nil }
            var value: UInt64 = 0
            for _ in 0..<8 {
                value = value << 8 | UInt64(self.bytes[self.index])
                self.index += 1
            }
            return value
        }

        mutating func string() -> String? {
            guard let length = self.u8(), length > 0, self.remaining >= Int(length) else { return nil }
            let slice = self.bytes[self.index..<self.index + Int(length)]
            self.index += Int(length)
            return String(validating: slice, as: UTF8.self)
        }

        /// A count of items each at least `minItemSize` bytes long, rejected if it cannot fit.
        mutating func count(minItemSize: Int) -> Int? {
            guard let n = self.u32(), Int(n) <= self.remaining / minItemSize else { return nil }
            return Int(n)
        }
    }
}
