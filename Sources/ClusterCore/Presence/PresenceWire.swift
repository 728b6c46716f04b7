/// The binary format of presence frames (big-endian; names are u8-length strings as in ``InterestWire``,
/// users and infos u16-length strings):
/// - delta: 1, owner, u64 epoch, u64 fromVersion, u32 n, n x (u8 op: 1 join channel user info | 2 leave channel user)
/// - digest: 2, owner, u64 epoch, u64 version
/// - syncRequest: 3, owner
/// - snapshot: 4, owner, u64 epoch, u64 version, u32 index, u8 isLast, u32 n, n x (channel, user, info)
/// - request: u64 id, u8 kind (1 counts channel u8 perUser | 2 disconnect user | 3 unsubscribe user channel)
/// - reply: u64 id, u8 kind (1 counts u32 connections, u32 n, n x (user, u32 count) | 2 affected u32)
enum PresenceWire {
    static func longStringSize(_ string: String) -> Int { 2 + string.utf8.count }
    static func deltaHeaderSize(owner: String) -> Int { 1 + 1 + owner.utf8.count + 8 + 8 + 4 }
    static func snapshotHeaderSize(owner: String) -> Int { deltaHeaderSize(owner: owner) + 4 + 1 }
    static func opSize(_ op: PresenceOp) -> Int {
        switch op {
        case .join(let channel, let user, let info): 1 + 1 + channel.utf8.count + longStringSize(user) + longStringSize(info)
        case .leave(let channel, let user): 1 + 1 + channel.utf8.count + longStringSize(user)
        }
    }
    static func entrySize(_ entry: PresenceEntry) -> Int {
        1 + entry.channel.utf8.count + longStringSize(entry.user) + longStringSize(entry.info)
    }
}

extension InterestWire.Writer {
    /// A string of 0...65,535 bytes behind a u16 length.
    mutating func longString(_ value: String) {
        let utf8 = value.utf8
        precondition(utf8.count <= Int(UInt16.max), "long wire strings are at most 65,535 bytes")
        bytes.append(UInt8(utf8.count >> 8))
        bytes.append(UInt8(utf8.count & 0xFF))
        bytes.append(contentsOf: utf8)
    }
}

extension InterestWire.Reader {
    mutating func longString() -> String? {
        guard let high = u8(), let low = u8() else { return nil }
        let length = Int(high) << 8 | Int(low)
        guard remaining >= length else { return nil }
        let slice = bytes[index..<index + length]
        index += length
        return String(validating: slice, as: UTF8.self)
    }
}

extension PresenceMessage {
    /// The message in the format of ``PresenceWire``.
    public func encoded() -> [UInt8] {
        var w = InterestWire.Writer()
        switch self {
        case .delta(let owner, let epoch, let fromVersion, let ops):
            w.u8(1)
            w.string(owner)
            w.u64(epoch)
            w.u64(fromVersion)
            w.u32(UInt32(ops.count))
            for op in ops {
                switch op {
                case .join(let channel, let user, let info):
                    w.u8(1)
                    w.string(channel)
                    w.longString(user)
                    w.longString(info)
                case .leave(let channel, let user):
                    w.u8(2)
                    w.string(channel)
                    w.longString(user)
                }
            }
        case .digest(let owner, let epoch, let version):
            w.u8(2)
            w.string(owner)
            w.u64(epoch)
            w.u64(version)
        case .syncRequest(let owner):
            w.u8(3)
            w.string(owner)
        case .snapshot(let owner, let epoch, let version, let index, let isLast, let entries):
            w.u8(4)
            w.string(owner)
            w.u64(epoch)
            w.u64(version)
            w.u32(index)
            w.u8(isLast ? 1 : 0)
            w.u32(UInt32(entries.count))
            for entry in entries {
                w.string(entry.channel)
                w.longString(entry.user)
                w.longString(entry.info)
            }
        }
        return w.bytes
    }

    /// Decodes a message; nil when malformed (never traps).
    public static func decode(_ bytes: some Collection<UInt8>) -> PresenceMessage? {
        var r = InterestWire.Reader(bytes: Array(bytes))
        guard let kind = r.u8(), let owner = r.string() else { return nil }
        let message: PresenceMessage
        switch kind {
        case 1:
            guard let epoch = r.u64(), let from = r.u64(), let n = r.count(minItemSize: 4) else { return nil }
            var ops: [PresenceOp] = []
            ops.reserveCapacity(n)
            for _ in 0..<n {
                guard let op = r.u8(), let channel = r.string(), let user = r.longString() else { return nil }
                switch op {
                case 1:
                    guard let info = r.longString() else { return nil }
                    ops.append(.join(channel: channel, user: user, info: info))
                case 2: ops.append(.leave(channel: channel, user: user))
                default: return nil
                }
            }
            message = .delta(owner: owner, epoch: epoch, fromVersion: from, ops: ops)
        case 2:
            guard let epoch = r.u64(), let version = r.u64() else { return nil }
            message = .digest(owner: owner, epoch: epoch, version: version)
        case 3:
            message = .syncRequest(owner: owner)
        case 4:
            guard let epoch = r.u64(), let version = r.u64(), let index = r.u32(), let last = r.u8(), last <= 1,
                let n = r.count(minItemSize: 6)
            else { return nil }
            var entries: [PresenceEntry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                guard let channel = r.string(), let user = r.longString(), let info = r.longString() else { return nil }
                entries.append(PresenceEntry(channel: channel, user: user, info: info))
            }
            message = .snapshot(owner: owner, epoch: epoch, version: version, index: index, isLast: last == 1, entries: entries)
        default:
            return nil
        }
        return r.remaining == 0 ? message : nil
    }
}

extension PresenceRequest {
    /// `id` and the request in the format of ``PresenceWire``.
    public func encoded(id: UInt64) -> [UInt8] {
        var w = InterestWire.Writer()
        w.u64(id)
        switch self {
        case .counts(let channel, let perUser):
            w.u8(1)
            w.string(channel)
            w.u8(perUser ? 1 : 0)
        case .disconnect(let user):
            w.u8(2)
            w.longString(user)
        case .unsubscribe(let user, let channel):
            w.u8(3)
            w.longString(user)
            w.string(channel)
        }
        return w.bytes
    }

    public static func decode(_ bytes: some Collection<UInt8>) -> (id: UInt64, request: PresenceRequest)? {
        var r = InterestWire.Reader(bytes: Array(bytes))
        guard let id = r.u64(), let kind = r.u8() else { return nil }
        let request: PresenceRequest
        switch kind {
        case 1:
            guard let channel = r.string(), let flag = r.u8(), flag <= 1 else { return nil }
            request = .counts(channel: channel, perUser: flag == 1)
        case 2:
            guard let user = r.longString() else { return nil }
            request = .disconnect(user: user)
        case 3:
            guard let user = r.longString(), let channel = r.string() else { return nil }
            request = .unsubscribe(user: user, channel: channel)
        default: return nil
        }
        return r.remaining == 0 ? (id, request) : nil
    }
}

extension PresenceReply {
    /// `id` and the reply in the format of ``PresenceWire``.
    public func encoded(id: UInt64) -> [UInt8] {
        var w = InterestWire.Writer()
        w.u64(id)
        switch self {
        case .counts(let connections, let perUser):
            w.u8(1)
            w.u32(UInt32(clamping: connections))
            w.u32(UInt32(perUser.count))
            for (user, count) in perUser.sorted(by: { $0.key < $1.key }) {
                w.longString(user)
                w.u32(UInt32(clamping: count))
            }
        case .affected(let count):
            w.u8(2)
            w.u32(UInt32(clamping: count))
        }
        return w.bytes
    }

    public static func decode(_ bytes: some Collection<UInt8>) -> (id: UInt64, reply: PresenceReply)? {
        var r = InterestWire.Reader(bytes: Array(bytes))
        guard let id = r.u64(), let kind = r.u8() else { return nil }
        let reply: PresenceReply
        switch kind {
        case 1:
            guard let connections = r.u32(), let n = r.count(minItemSize: 6) else { return nil }
            var perUser: [String: Int] = [:]
            for _ in 0..<n {
                guard let user = r.longString(), let count = r.u32() else { return nil }
                perUser[user] = Int(count)
            }
            reply = .counts(connections: Int(connections), perUser: perUser)
        case 2:
            guard let count = r.u32() else { return nil }
            reply = .affected(Int(count))
        default: return nil
        }
        return r.remaining == 0 ? (id, reply) : nil
    }
}
