import NIOCore

extension ClusterFrame {
    /// Encodes one of the core's frames into its kind and payload (a push's data is written as is).
    public static func encode(_ frame: Cluster.Frame<ByteBuffer>, allocator: ByteBufferAllocator) -> (kind: UInt8, payload: ByteBuffer) {
        if case .history(let message) = frame {
            let (kind, payload) = encodeHistory(message, allocator: allocator)
            return (kind.rawValue, payload)
        }
        let (kind, payload) = encodeCore(frame, allocator: allocator)
        return (kind.rawValue, payload)
    }

    private static func encodeCore(_ frame: Cluster.Frame<ByteBuffer>, allocator: ByteBufferAllocator) -> (kind: Kind, payload: ByteBuffer) {
        switch frame {
        case .membership(let message):
            return (.membership, bytes(message.encoded(), allocator: allocator))
        case .interest(let message):
            return (.interest, bytes(message.encoded(), allocator: allocator))
        case .push(let push):
            let payload = Self.push(requestID: push.requestID, timestamp: push.timestamp, channel: push.channel, data: push.data, allocator: allocator)
            return (push.channel == nil ? .broadcast : .forward, payload)
        case .ack(let id, let count):
            return (.ack, ack(requestID: id, count: count, allocator: allocator))
        case .statsRequest(let id):
            return (.statsRequest, statsRequest(requestID: id, allocator: allocator))
        case .statsResponse(let id, let stats):
            return (.statsResponse, statsResponse(requestID: id, stats: stats, allocator: allocator))
        case .presence(let message):
            return (.presence, bytes(message.encoded(), allocator: allocator))
        case .presenceRequest(let id, let request):
            return (.presenceRequest, bytes(request.encoded(id: id), allocator: allocator))
        case .presenceReply(let id, let reply):
            return (.presenceReply, bytes(reply.encoded(id: id), allocator: allocator))
        case .history:
            preconditionFailure("history frames are encoded by encodeHistory")
        }
    }

    /// Decodes a frame of `kind` from the peer called `peer`; nil when the kind is unknown or the payload malformed.
    public static func decode(kind: UInt8, payload: ByteBuffer, from peer: String) -> Cluster.Frame<ByteBuffer>? {
        if let kind = HistoryKind(rawValue: kind) { return decodeHistory(kind, payload).map { .history($0) } }
        guard let kind = Kind(rawValue: kind) else { return nil }
        switch kind {
        case .membership:
            return Membership.Message.decode(payload.readableBytesView).map { .membership($0) }
        case .interest:
            return InterestMessage.decode(payload.readableBytesView).map { .interest($0) }
        case .forward, .broadcast:
            return decodePush(payload, hasChannel: kind == .forward).map {
                .push(Cluster.Push(requestID: $0.requestID, timestamp: $0.timestamp, channel: $0.channel, data: $0.data))
            }
        case .ack:
            return decodeAck(payload).map { .ack(requestID: $0.requestID, count: $0.count) }
        case .statsRequest:
            return decodeStatsRequest(payload).map { .statsRequest(requestID: $0) }
        case .statsResponse:
            return decodeStatsResponse(payload, node: peer).map { .statsResponse(requestID: $0.requestID, stats: $0.stats) }
        case .presence:
            return PresenceMessage.decode(payload.readableBytesView).map { .presence($0) }
        case .presenceRequest:
            return PresenceRequest.decode(payload.readableBytesView).map { .presenceRequest(requestID: $0.id, request: $0.request) }
        case .presenceReply:
            return PresenceReply.decode(payload.readableBytesView).map { .presenceReply(requestID: $0.id, reply: $0.reply) }
        }
    }

    private static func bytes(_ bytes: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }
}
