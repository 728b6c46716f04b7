import NIOCore

/// Entry points for the libFuzzer targets in `Fuzz/` (a separate package that sees only public API) and for
/// the fuzz regression tests. Each runs the real decoders and traps (`precondition`) when a result breaks an
/// invariant, so libFuzzer reports it like a crash. Not for production use.
public enum FuzzEntryPoints {
    /// A peer byte stream: the first input byte picks the chunk size the stream is fed in (1-256 bytes) and
    /// the rest goes through `PeerFrameDecoder` (payload limit 4096). Every frame is then given to the
    /// decoder of its kind (and kinds outside the cluster's to all of them), and what decodes must
    /// re-encode to an equal value. The frames must re-encode to exactly the bytes consumed.
    public static func _peerFrames(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let stream = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        let chunkSize = Int(first) + 1
        let allocator = ByteBufferAllocator()
        var decoder = PeerFrameDecoder(maxPayloadBytes: 4096)
        var reencoded = allocator.buffer(capacity: stream.count)
        var offset = 0
        var failed = false
        feeding: while offset < stream.count {
            let end = min(offset + chunkSize, stream.count)
            var chunk = allocator.buffer(capacity: end - offset)
            chunk.writeBytes(UnsafeRawBufferPointer(rebasing: stream[offset..<end]))
            offset = end
            decoder.append(chunk)
            while true {
                let frame: PeerFrame?
                do {
                    frame = try decoder.next()
                } catch {
                    failed = true
                    break feeding
                }
                guard let frame else { break }
                PeerFrame.encode(kind: frame.kind, payload: frame.payload, into: &reencoded)
                _clusterFrame(kind: frame.kind, payload: frame.payload)
            }
        }
        let consumed = reencoded.readableBytes
        precondition(consumed <= stream.count && reencoded.readableBytesView.elementsEqual(stream.prefix(consumed)), "frames do not re-encode to the stream")
        if !failed {
            precondition(consumed + decoder.bufferedBytes == stream.count, "decoder lost or invented bytes")
        }
    }

    /// One application frame through the decoder for its kind (all of them for other kinds).
    public static func _clusterFrame(kind: UInt8, payload: ByteBuffer) {
        if let kind = ClusterFrame.HistoryKind(rawValue: kind) {
            history(kind, payload)
            return
        }
        switch ClusterFrame.Kind(rawValue: kind) {
        case .membership: membership(payload)
        case .interest: interest(payload)
        case .forward: push(payload, hasChannel: true)
        case .broadcast: push(payload, hasChannel: false)
        case .ack: ack(payload)
        case .statsRequest: _ = ClusterFrame.decodeStatsRequest(payload)
        case .statsResponse: statsResponse(payload)
        case .presence, .presenceRequest, .presenceReply: presence(payload)
        case nil:
            membership(payload)
            interest(payload)
            push(payload, hasChannel: true)
            push(payload, hasChannel: false)
            ack(payload)
            _ = ClusterFrame.decodeStatsRequest(payload)
            statsResponse(payload)
            presence(payload)
            for kind in ClusterFrame.HistoryKind.allCases { history(kind, payload) }
        }
    }

    private static func presence(_ payload: ByteBuffer) {
        if let message = PresenceMessage.decode(payload.readableBytesView) {
            precondition(PresenceMessage.decode(message.encoded()) == message, "presence message does not round-trip")
        }
        if let (id, request) = PresenceRequest.decode(payload.readableBytesView) {
            precondition(PresenceRequest.decode(request.encoded(id: id))! == (id, request), "presence request does not round-trip")
        }
        if let (id, reply) = PresenceReply.decode(payload.readableBytesView) {
            precondition(PresenceReply.decode(reply.encoded(id: id))! == (id, reply), "presence reply does not round-trip")
        }
    }

    /// A history frame that decodes re-encodes to bytes that decode to the same bytes again (strings of invalid
    /// UTF-8 come back repaired, so the first encoding is the reference, not the input).
    private static func history(_ kind: ClusterFrame.HistoryKind, _ payload: ByteBuffer) {
        guard let message = ClusterFrame.decodeHistory(kind, payload) else { return }
        let (first, bytes) = ClusterFrame.encodeHistory(message, allocator: ByteBufferAllocator())
        precondition(first == kind, "history frame re-encoded as another kind")
        guard let again = ClusterFrame.decodeHistory(kind, bytes) else { return }
        precondition(ClusterFrame.encodeHistory(again, allocator: ByteBufferAllocator()).payload == bytes, "history frame does not round-trip")
    }

    private static func membership(_ payload: ByteBuffer) {
        guard let message = Membership.Message.decode(payload.readableBytesView) else { return }
        precondition(Membership.Message.decode(message.encoded()) == message, "membership message does not round-trip")
    }

    private static func interest(_ payload: ByteBuffer) {
        guard let message = InterestMessage.decode(payload.readableBytesView) else { return }
        precondition(InterestMessage.decode(message.encoded()) == message, "interest message does not round-trip")
    }

    private static func push(_ payload: ByteBuffer, hasChannel: Bool) {
        guard let push = ClusterFrame.decodePush(payload, hasChannel: hasChannel) else { return }
        precondition(push.data.readableBytes >= 2, "push data shorter than {}")
        if let channel = push.channel { precondition(!channel.isEmpty, "empty channel") }
        // A channel of invalid UTF-8 decodes repaired (U+FFFD), possibly past 255 bytes, which `push` cannot
        // encode; nodes never re-encode a received push, so only names that fit are round-tripped.
        guard push.channel?.utf8.count ?? 0 <= 255 else { return }
        let encoded = ClusterFrame.push(requestID: push.requestID, timestamp: push.timestamp, channel: push.channel, data: push.data, allocator: ByteBufferAllocator())
        let again = ClusterFrame.decodePush(encoded, hasChannel: hasChannel)
        precondition(again?.requestID == push.requestID && again?.timestamp == push.timestamp && again?.channel == push.channel && again?.data == push.data, "push does not round-trip")
    }

    private static func ack(_ payload: ByteBuffer) {
        guard let ack = ClusterFrame.decodeAck(payload) else { return }
        let again = ClusterFrame.decodeAck(ClusterFrame.ack(requestID: ack.requestID, count: ack.count, allocator: ByteBufferAllocator()))
        precondition(again?.requestID == ack.requestID && again?.count == ack.count, "ack does not round-trip")
    }

    private static func statsResponse(_ payload: ByteBuffer) {
        guard let (id, stats) = ClusterFrame.decodeStatsResponse(payload, node: "fuzz") else { return }
        let encoded = ClusterFrame.statsResponse(requestID: id, stats: stats, allocator: ByteBufferAllocator())
        guard let again = ClusterFrame.decodeStatsResponse(encoded, node: "fuzz") else {
            preconditionFailure("stats response does not re-decode")
        }
        var expected = stats
        expected.channels = stats.channels.filter { !$0.key.isEmpty && $0.key.utf8.count <= 255 }
        precondition(again.requestID == id && again.stats == expected, "stats response does not round-trip")
    }
}
