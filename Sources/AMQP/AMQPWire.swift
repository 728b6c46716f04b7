import NIOCore

/// The scalar encodings of AMQP 0-9-1 (section 4.2.5): big-endian integers, short strings (one length byte)
/// and long strings (four length bytes).
extension ByteBuffer {
    mutating func readAMQPInteger<T: FixedWidthInteger>(_ what: String, as: T.Type = T.self) throws(AMQPDecodingError) -> T {
        guard let value = readInteger(endianness: .big, as: T.self) else { throw .truncated(what) }
        return value
    }

    mutating func readShortString(_ what: String) throws(AMQPDecodingError) -> String {
        let length: UInt8 = try readAMQPInteger(what)
        guard let value = readString(length: Int(length)) else { throw .truncated(what) }
        return value
    }

    mutating func readLongBytes(_ what: String) throws(AMQPDecodingError) -> [UInt8] {
        let length: UInt32 = try readAMQPInteger(what)
        guard length <= readableBytes, let bytes = readBytes(length: Int(length)) else { throw .truncated(what) }
        return bytes
    }

    mutating func readLongString(_ what: String) throws(AMQPDecodingError) -> String {
        String(decoding: try readLongBytes(what), as: UTF8.self)
    }

    /// Writes a short string, cut to 255 bytes at a character boundary.
    mutating func writeShortString(_ value: String) {
        var utf8 = Array(value.utf8)
        if utf8.count > 255 {
            utf8 = Array(utf8.prefix(255))
            while let last = utf8.last, last & 0xC0 == 0x80 { utf8.removeLast() }
            if let last = utf8.last, last >= 0xC0 { utf8.removeLast() }
        }
        writeInteger(UInt8(utf8.count))
        writeBytes(utf8)
    }

    mutating func writeLongBytes(_ bytes: some Collection<UInt8>) {
        writeInteger(UInt32(bytes.count), endianness: .big)
        writeBytes(bytes)
    }

    mutating func writeLongString(_ value: String) {
        writeLongBytes(Array(value.utf8))
    }

    mutating func writeBigEndian<T: FixedWidthInteger>(_ value: T) {
        writeInteger(value, endianness: .big)
    }

    /// Packs consecutive bit fields into one octet, the first in the lowest bit.
    mutating func writeBits(_ bits: Bool...) {
        var octet: UInt8 = 0
        for (i, bit) in bits.enumerated() where bit { octet |= 1 << i }
        writeInteger(octet)
    }
}

/// Unpacks the bit fields of one octet (`bit(0)` is the first field).
struct AMQPBits {
    let octet: UInt8
    func bit(_ i: Int) -> Bool { octet & (1 << i) != 0 }
}
