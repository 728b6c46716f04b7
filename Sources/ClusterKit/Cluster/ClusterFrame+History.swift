import NIOCore

/// The history protocol's frames, kinds 32 to 42 (32 to 47 are reserved for history).
///
/// Layouts (big-endian): a channel is a u8 length and 1-255 bytes; a name or epoch a u16 length and bytes;
/// an entry is u64 offset, i64 Unix seconds, key (name, u64 id), u32 length and the raw `data` object.
/// - `historyAppend` u64 request, channel, entry        - `historyAppended` u64 request, u8 1 + epoch, u64 offset,
///   u32 n, n x (name, u32 count) | u8 0 (not ready)    - `historyCopy` channel, epoch, u64 lease, entry
/// - `historyCopyAck` channel, epoch, u64 lease, u64 offset, u8 verdict
/// - `historySync` channel, u8 transfer, epoch, u64 lease, u64 released, u64 base, u32 n, n x entry
/// - `historySyncAck` channel, epoch, u64 lease, u8 accepted        - `historyClaim` channel
/// - `historyClaimAnswer` channel, u8 flags (1 has a copy, 2 holds it)        - `historyRead` u64 request, channel, u8 flags (1 after, 2 limit),
///   u64 after, u32 limit        - `historyReadResult` u64 request, u8 1 + epoch, u64 top, u64 first kept, u32 n,
///   n x entry | u8 0        - `historyPush` u64 request, channel, epoch, entry
extension ClusterFrame {
    public enum HistoryKind: UInt8, Sendable, CaseIterable {
        case append = 32
        case appended = 33
        case copy = 34
        case copyAck = 35
        case sync = 36
        case syncAck = 37
        case claim = 38
        case claimAnswer = 39
        case read = 40
        case readResult = 41
        case push = 42
    }

    static func encodeHistory(_ message: History.Message<ByteBuffer>, allocator: ByteBufferAllocator) -> (kind: HistoryKind, payload: ByteBuffer) {
        var b = allocator.buffer(capacity: 64)
        let kind: HistoryKind
        switch message {
        case .append(let id, let channel, let entry):
            kind = .append
            b.writeInteger(id)
            b.writeChannel(channel)
            b.writeEntry(entry)
        case .appended(let id, let result):
            kind = .appended
            b.writeInteger(id)
            if let result {
                b.writeInteger(UInt8(1))
                b.writeName(result.epoch)
                b.writeInteger(result.offset)
                b.writeInteger(UInt32(result.counts.count))
                for count in result.counts {
                    b.writeName(count.node)
                    b.writeInteger(UInt32(clamping: count.count))
                }
            } else {
                b.writeInteger(UInt8(0))
            }
        case .copy(let channel, let epoch, let lease, let entry):
            kind = .copy
            b.writeChannel(channel)
            b.writeName(epoch)
            b.writeInteger(lease)
            b.writeEntry(entry)
        case .copyAck(let channel, let epoch, let lease, let offset, let verdict):
            kind = .copyAck
            b.writeChannel(channel)
            b.writeName(epoch)
            b.writeInteger(lease)
            b.writeInteger(offset)
            b.writeInteger(verdict.rawValue)
        case .sync(let channel, let snapshot, let transfer):
            kind = .sync
            b.writeChannel(channel)
            b.writeInteger(UInt8(transfer ? 1 : 0))
            b.writeName(snapshot.epoch)
            b.writeInteger(snapshot.lease)
            b.writeInteger(snapshot.released)
            b.writeInteger(snapshot.base)
            b.writeInteger(UInt32(snapshot.entries.count))
            for entry in snapshot.entries { b.writeEntry(entry) }
        case .syncAck(let channel, let epoch, let lease, let accepted):
            kind = .syncAck
            b.writeChannel(channel)
            b.writeName(epoch)
            b.writeInteger(lease)
            b.writeInteger(UInt8(accepted ? 1 : 0))
        case .claim(let channel):
            kind = .claim
            b.writeChannel(channel)
        case .claimAnswer(let channel, let hasCopy, let holds):
            kind = .claimAnswer
            b.writeChannel(channel)
            b.writeInteger(UInt8((hasCopy ? 1 : 0) | (holds ? 2 : 0)))
        case .read(let id, let channel, let after, let limit):
            kind = .read
            b.writeInteger(id)
            b.writeChannel(channel)
            b.writeInteger(UInt8((after == nil ? 0 : 1) | (limit == nil ? 0 : 2)))
            b.writeInteger(after ?? 0)
            b.writeInteger(UInt32(clamping: limit ?? 0))
        case .readResult(let id, let range):
            kind = .readResult
            b.writeInteger(id)
            if let range {
                b.writeInteger(UInt8(1))
                b.writeName(range.epoch)
                b.writeInteger(range.top)
                b.writeInteger(range.firstKept)
                b.writeInteger(UInt32(range.entries.count))
                for entry in range.entries { b.writeEntry(entry) }
            } else {
                b.writeInteger(UInt8(0))
            }
        case .push(let id, let channel, let epoch, let entry):
            kind = .push
            b.writeInteger(id)
            b.writeChannel(channel)
            b.writeName(epoch)
            b.writeEntry(entry)
        }
        return (kind, b)
    }

    /// Decodes a history frame; nil when malformed (counts as a malformed frame).
    static func decodeHistory(_ kind: HistoryKind, _ payload: ByteBuffer) -> History.Message<ByteBuffer>? {
        var b = payload
        let message: History.Message<ByteBuffer>?
        switch kind {
        case .append:
            guard let id = b.readInteger(as: UInt64.self), let channel = b.readChannel(), let entry = b.readEntry(compact: true) else { return nil }
            message = .append(requestID: id, channel: channel, entry: entry)
        case .appended:
            guard let id = b.readInteger(as: UInt64.self), let has = b.readInteger(as: UInt8.self) else { return nil }
            guard has == 1 else { return has == 0 && b.readableBytes == 0 ? .appended(requestID: id, result: nil) : nil }
            guard let epoch = b.readName(), let offset = b.readInteger(as: UInt64.self), let n = b.readInteger(as: UInt32.self),
                Int(n) <= b.readableBytes / 6
            else { return nil }
            var counts: [NodeCount] = []
            for _ in 0..<n {
                guard let node = b.readName(), let count = b.readInteger(as: UInt32.self) else { return nil }
                counts.append(NodeCount(node: node, count: Int(count)))
            }
            message = .appended(requestID: id, result: History.Appended(epoch: epoch, offset: offset, counts: counts))
        case .copy:
            guard let channel = b.readChannel(), let epoch = b.readName(), let lease = b.readInteger(as: UInt64.self), let entry = b.readEntry(compact: true) else { return nil }
            message = .copy(channel: channel, epoch: epoch, lease: lease, entry: entry)
        case .copyAck:
            guard let channel = b.readChannel(), let epoch = b.readName(), let lease = b.readInteger(as: UInt64.self),
                let offset = b.readInteger(as: UInt64.self), let raw = b.readInteger(as: UInt8.self), let verdict = History.CopyVerdict(rawValue: raw)
            else { return nil }
            message = .copyAck(channel: channel, epoch: epoch, lease: lease, offset: offset, verdict: verdict)
        case .sync:
            guard let channel = b.readChannel(), let transfer = b.readInteger(as: UInt8.self), transfer <= 1, let epoch = b.readName(),
                let lease = b.readInteger(as: UInt64.self), let released = b.readInteger(as: UInt64.self), let base = b.readInteger(as: UInt64.self),
                let entries = b.readEntries(compact: true), released <= base + UInt64(entries.count),
                entries.enumerated().allSatisfy({ $0.element.offset == base + 1 + UInt64($0.offset) })
            else { return nil }
            message = .sync(channel: channel, snapshot: History.Snapshot(epoch: epoch, lease: lease, released: released, base: base, entries: entries), transfer: transfer == 1)
        case .syncAck:
            guard let channel = b.readChannel(), let epoch = b.readName(), let lease = b.readInteger(as: UInt64.self),
                let accepted = b.readInteger(as: UInt8.self), accepted <= 1
            else { return nil }
            message = .syncAck(channel: channel, epoch: epoch, lease: lease, accepted: accepted == 1)
        case .claim:
            guard let channel = b.readChannel() else { return nil }
            message = .claim(channel: channel)
        case .claimAnswer:
            guard let channel = b.readChannel(), let flags = b.readInteger(as: UInt8.self), flags <= 3 else { return nil }
            message = .claimAnswer(channel: channel, hasCopy: flags & 1 != 0, holds: flags & 2 != 0)
        case .read:
            guard let id = b.readInteger(as: UInt64.self), let channel = b.readChannel(), let flags = b.readInteger(as: UInt8.self), flags <= 3,
                let after = b.readInteger(as: UInt64.self), let limit = b.readInteger(as: UInt32.self)
            else { return nil }
            message = .read(requestID: id, channel: channel, after: flags & 1 == 0 ? nil : after, limit: flags & 2 == 0 ? nil : Int(limit))
        case .readResult:
            guard let id = b.readInteger(as: UInt64.self), let has = b.readInteger(as: UInt8.self) else { return nil }
            guard has == 1 else { return has == 0 && b.readableBytes == 0 ? .readResult(requestID: id, range: nil) : nil }
            guard let epoch = b.readName(), let top = b.readInteger(as: UInt64.self), let first = b.readInteger(as: UInt64.self),
                let entries = b.readEntries()
            else { return nil }
            message = .readResult(requestID: id, range: History.Range(epoch: epoch, top: top, firstKept: first, entries: entries))
        case .push:
            guard let id = b.readInteger(as: UInt64.self), let channel = b.readChannel(), let epoch = b.readName(), let entry = b.readEntry() else { return nil }
            message = .push(requestID: id, channel: channel, epoch: epoch, entry: entry)
        }
        return b.readableBytes == 0 ? message : nil
    }
}

extension ByteBuffer {
    /// A copy of `buffer`'s readable bytes in storage of their own size.
    fileprivate init(buffer: ByteBuffer) {
        self = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        writeImmutableBuffer(buffer)
    }

    fileprivate mutating func writeChannel(_ channel: String) {
        writeInteger(UInt8(truncatingIfNeeded: channel.utf8.count))
        writeString(channel)
    }

    fileprivate mutating func readChannel() -> String? {
        guard let length = readInteger(as: UInt8.self), length > 0 else { return nil }
        return readString(length: Int(length))
    }

    fileprivate mutating func writeName(_ name: String) {
        writeInteger(UInt16(truncatingIfNeeded: name.utf8.count))
        writeString(name)
    }

    fileprivate mutating func readName() -> String? {
        guard let length = readInteger(as: UInt16.self) else { return nil }
        return readString(length: Int(length))
    }

    fileprivate mutating func writeEntry(_ entry: History.Entry<ByteBuffer>) {
        writeInteger(entry.offset)
        writeInteger(Int64(entry.timestamp))
        writeName(entry.key.origin)
        writeInteger(entry.key.id)
        writeInteger(UInt32(entry.data.readableBytes))
        writeImmutableBuffer(entry.data)
    }

    /// An entry whose data at least looks like an object: a slice of this buffer, or with `compact` (an entry
    /// to keep) a copy of its own, so that a kept message does not hold the whole received frame's storage.
    fileprivate mutating func readEntry(compact: Bool = false) -> History.Entry<ByteBuffer>? {
        guard let offset = readInteger(as: UInt64.self), let ts = readInteger(as: Int64.self), let origin = readName(),
            let id = readInteger(as: UInt64.self), let length = readInteger(as: UInt32.self), length >= 2,
            let slice = readSlice(length: Int(length)),
            slice.getInteger(at: slice.readerIndex, as: UInt8.self) == UInt8(ascii: "{"),
            slice.getInteger(at: slice.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "}")
        else { return nil }
        let data = compact ? ByteBuffer(buffer: slice) : slice
        return History.Entry(offset: offset, timestamp: Int(ts), key: History.MessageKey(origin: origin, id: id), data: data, bytes: data.readableBytes)
    }

    fileprivate mutating func readEntries(compact: Bool = false) -> [History.Entry<ByteBuffer>]? {
        guard let n = readInteger(as: UInt32.self), Int(n) <= readableBytes / 32 else { return nil }
        var entries: [History.Entry<ByteBuffer>] = []
        entries.reserveCapacity(Int(n))
        for _ in 0..<n {
            guard let entry = readEntry(compact: compact) else { return nil }
            entries.append(entry)
        }
        return entries
    }
}
