// Binary wire format of `Membership.Message` (all integers unsigned LEB128 varints):
//
//   message  := version(1 byte = 1) kind(1 byte) body
//   kind 1 ping     := seq gossipList
//   kind 2 pingReq  := seq string(target) gossipList
//   kind 3 ack      := seq gossipList
//   kind 4 nack     := seq gossipList
//   kind 5 sync     := flag(1 byte, 0/1 = replyWanted) gossipList
//   gossipList := count entry*
//   entry    := string(name) string(address) incarnation flags(1 byte) [string(suspectedBy) if flags & 4]
//               flags: bits 0-1 state, bit 2 suspectedBy present, other bits must be 0
//   string   := length bytes (UTF-8, length <= 1024)
//
// The decoder rejects anything else (unknown version or kind, bad varint, overlong or invalid strings,
// more than 4096 entries, trailing bytes) by returning nil; it never traps.

extension Membership.Message {
    static let wireVersion: UInt8 = 1
    static let maxStringBytes = 1024
    static let maxEntries = 4096

    /// The compact binary encoding of this message (see the format at the top of this file).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.wireVersion]
        out.reserveCapacity(32 + gossip.count * 40)
        switch self {
        case .ping(let sequence, let gossip):
            out.append(1)
            Self.putVarint(sequence, into: &out)
            Self.putGossip(gossip, into: &out)
        case .pingRequest(let sequence, let target, let gossip):
            out.append(2)
            Self.putVarint(sequence, into: &out)
            Self.putString(target, into: &out)
            Self.putGossip(gossip, into: &out)
        case .ack(let sequence, let gossip):
            out.append(3)
            Self.putVarint(sequence, into: &out)
            Self.putGossip(gossip, into: &out)
        case .nack(let sequence, let gossip):
            out.append(4)
            Self.putVarint(sequence, into: &out)
            Self.putGossip(gossip, into: &out)
        case .sync(let entries, let replyWanted):
            out.append(5)
            out.append(replyWanted ? 1 : 0)
            Self.putGossip(entries, into: &out)
        }
        return out
    }

    /// Decodes a message produced by ``encoded()``; returns `nil` for anything malformed.
    public static func decode(_ bytes: some Collection<UInt8>) -> Membership.Message? {
        var reader = Reader(bytes: Array(bytes))
        guard reader.byte() == wireVersion, let kind = reader.byte() else { return nil }
        let message: Membership.Message
        switch kind {
        case 1:
            guard let seq = reader.varint(), let gossip = reader.gossipList() else { return nil }
            message = .ping(sequence: seq, gossip: gossip)
        case 2:
            guard let seq = reader.varint(), let target = reader.string(), let gossip = reader.gossipList() else {
                return nil
            }
            message = .pingRequest(sequence: seq, target: target, gossip: gossip)
        case 3:
            guard let seq = reader.varint(), let gossip = reader.gossipList() else { return nil }
            message = .ack(sequence: seq, gossip: gossip)
        case 4:
            guard let seq = reader.varint(), let gossip = reader.gossipList() else { return nil }
            message = .nack(sequence: seq, gossip: gossip)
        case 5:
            guard let flag = reader.byte(), flag <= 1, let entries = reader.gossipList() else { return nil }
            message = .sync(entries: entries, replyWanted: flag == 1)
        default:
            return nil
        }
        guard reader.isAtEnd else { return nil }
        return message
    }

    // MARK: Writing

    private static func putVarint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func putString(_ string: String, into out: inout [UInt8]) {
        let utf8 = Array(string.utf8.prefix(maxStringBytes))
        putVarint(UInt64(utf8.count), into: &out)
        out.append(contentsOf: utf8)
    }

    private static func putGossip(_ gossip: [Membership.Gossip], into out: inout [UInt8]) {
        let entries = gossip.prefix(maxEntries)
        putVarint(UInt64(entries.count), into: &out)
        for entry in entries {
            putString(entry.member.name, into: &out)
            putString(entry.member.address, into: &out)
            putVarint(entry.member.incarnation, into: &out)
            let flags = entry.member.state.rawValue | (entry.suspectedBy == nil ? 0 : 4)
            out.append(flags)
            if let suspectedBy = entry.suspectedBy {
                putString(suspectedBy, into: &out)
            }
        }
    }

    // MARK: Reading

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var isAtEnd: Bool { index == bytes.count }

        mutating func byte() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard let b = byte() else { return nil }
                let payload = UInt64(b & 0x7F)
                if shift == 63 && payload > 1 { return nil }  // would overflow 64 bits
                result |= payload << shift
                if b & 0x80 == 0 { return result }
                shift += 7
                if shift > 63 { return nil }
            }
        }

        mutating func string() -> String? {
            guard let length = varint(), length <= UInt64(Membership.Message.maxStringBytes) else { return nil }
            let count = Int(length)
            guard bytes.count - index >= count else { return nil }
            let slice = bytes[index..<(index + count)]
            index += count
            return String(validating: slice, as: UTF8.self)
        }

        mutating func gossipList() -> [Membership.Gossip]? {
            guard let count = varint(), count <= UInt64(Membership.Message.maxEntries) else { return nil }
            // Each entry needs at least 4 bytes: do not reserve memory a short input cannot back.
            guard UInt64(bytes.count - index) >= count * 4 else { return nil }
            var entries: [Membership.Gossip] = []
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let name = string(), let address = string(), let incarnation = varint(),
                    let flags = byte(), flags & ~0x07 == 0,
                    let state = Membership.MemberState(rawValue: flags & 0x03)
                else { return nil }
                var suspectedBy: String?
                if flags & 0x04 != 0 {
                    guard let by = string() else { return nil }
                    suspectedBy = by
                }
                let member = Membership.Member(name: name, address: address, incarnation: incarnation, state: state)
                entries.append(Membership.Gossip(member: member, suspectedBy: suspectedBy))
            }
            return entries
        }
    }
}
