extension InterestMessage {
    /// The message in the binary format described at ``InterestWire``: a compact, versioned
    /// encoding with length-prefixed strings.
    public func encoded() -> [UInt8] {
        var writer = InterestWire.Writer()
        writer.u8(InterestWire.formatVersion)
        switch self {
        case .delta(let delta):
            writer.u8(InterestWire.Kind.delta.rawValue)
            writer.string(delta.owner)
            writer.u64(delta.epoch)
            writer.u64(delta.fromVersion)
            writer.u32(UInt32(delta.ops.count))
            for op in delta.ops {
                switch op {
                case .add(let channel):
                    writer.u8(InterestWire.opAdd)
                    writer.string(channel)
                case .remove(let channel):
                    writer.u8(InterestWire.opRemove)
                    writer.string(channel)
                }
            }
        case .ack(let ack):
            writer.u8(InterestWire.Kind.ack.rawValue)
            writer.string(ack.owner)
            writer.u64(ack.epoch)
            writer.u64(ack.version)
        case .digest(let digest):
            writer.u8(InterestWire.Kind.digest.rawValue)
            writer.u32(UInt32(digest.entries.count))
            for entry in digest.entries {
                writer.string(entry.owner)
                writer.u64(entry.epoch)
                writer.u64(entry.version)
            }
        case .syncRequest(let request):
            writer.u8(InterestWire.Kind.syncRequest.rawValue)
            writer.string(request.owner)
            writer.u64(request.knownEpoch)
            writer.u64(request.knownVersion)
        case .snapshot(let chunk):
            writer.u8(InterestWire.Kind.snapshot.rawValue)
            writer.string(chunk.owner)
            writer.u64(chunk.epoch)
            writer.u64(chunk.version)
            writer.u32(chunk.index)
            writer.u8(chunk.isLast ? 1 : 0)
            writer.u32(UInt32(chunk.channels.count))
            for channel in chunk.channels { writer.string(channel) }
        }
        return writer.bytes
    }

    /// Decodes one message; `nil` for anything malformed (unknown version or kind, truncation,
    /// trailing bytes, empty or non-UTF-8 strings, impossible counts or versions). Never traps.
    public static func decode(_ bytes: some Collection<UInt8>) -> InterestMessage? {
        var reader = InterestWire.Reader(bytes: Array(bytes))
        guard reader.u8() == InterestWire.formatVersion,
            let rawKind = reader.u8(), let kind = InterestWire.Kind(rawValue: rawKind)
        else { return nil }
        let message: InterestMessage?
        switch kind {
        case .delta: message = self.decodeDelta(&reader)
        case .ack:
            guard let owner = reader.string(), let epoch = reader.u64(), let version = reader.u64() else { return nil }
            message = .ack(InterestAck(owner: owner, epoch: epoch, version: version))
        case .digest:
            guard let n = reader.count(minItemSize: 18) else { return nil }
            var entries: [InterestDigest.Entry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                guard let owner = reader.string(), let epoch = reader.u64(), let version = reader.u64() else {
                    return nil
                }
                entries.append(.init(owner: owner, epoch: epoch, version: version))
            }
            message = .digest(InterestDigest(entries: entries))
        case .syncRequest:
            guard let owner = reader.string(), let epoch = reader.u64(), let version = reader.u64() else { return nil }
            message = .syncRequest(InterestSyncRequest(owner: owner, knownEpoch: epoch, knownVersion: version))
        case .snapshot: message = self.decodeSnapshot(&reader)
        }
        guard reader.remaining == 0 else { return nil }
        return message
    }

    private static func decodeDelta(_ reader: inout InterestWire.Reader) -> InterestMessage? {
        guard let owner = reader.string(), let epoch = reader.u64(), epoch > 0,
            let from = reader.u64(), from >= 1,
            let n = reader.count(minItemSize: 3), n >= 1,
            from <= UInt64.max - UInt64(n)
        else { return nil }
        var ops: [InterestOp] = []
        ops.reserveCapacity(n)
        for _ in 0..<n {
            guard let kind = reader.u8(), let channel = reader.string() else { return nil }
            switch kind {
            case InterestWire.opAdd: ops.append(.add(channel))
            case InterestWire.opRemove: ops.append(.remove(channel))
            default: return nil
            }
        }
        return .delta(InterestDelta(owner: owner, epoch: epoch, fromVersion: from, ops: ops))
    }

    private static func decodeSnapshot(_ reader: inout InterestWire.Reader) -> InterestMessage? {
        guard let owner = reader.string(), let epoch = reader.u64(), epoch > 0,
            let version = reader.u64(), let index = reader.u32(),
            let flags = reader.u8(), flags & ~1 == 0,
            let n = reader.count(minItemSize: 2)
        else { return nil }
        var channels: [String] = []
        channels.reserveCapacity(n)
        for _ in 0..<n {
            guard let channel = reader.string() else { return nil }
            channels.append(channel)
        }
        return .snapshot(
            InterestSnapshotChunk(
                owner: owner,
                epoch: epoch,
                version: version,
                index: index,
                isLast: flags == 1,
                channels: channels
            )
        )
    }
}
