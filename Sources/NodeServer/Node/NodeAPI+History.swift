import ClusterKit
import NIOCore

/// Channel history on the serving side: emits through the channel's owner, `subscribe` with `history` or
/// `recover` (a held subscription released with its replay), the backend's `history`, and the local delivery
/// of history entries (their frames carry `__offset` and `__epoch`).
extension NodeAPI {
    /// The `send_data` sender of a history emit in flight, skipped when its message comes back to this node.
    /// Unchecked: the session is only compared, and only used on its own loop (as `ShardDelivery.excluded`).
    struct HistorySender: @unchecked Sendable {
        let session: WebSocketSession
    }

    /// What a `subscribe` asks of history.
    enum HistoryAsk {
        /// `"history": true`: the position of the last message.
        case position
        /// `"recover": {"epoch", "offset"}`: the messages after that position.
        case recover(epoch: String, offset: UInt64)
    }

    /// The `history` / `recover` params of a subscribe: nil when neither is given. A plain subscribe costs a
    /// byte scan of its params, no parse.
    static func historyAsk(_ request: JSONRPCRequest) -> Result<HistoryAsk?, JSONRPCError> {
        guard paramsMention(request, historyKeys), let params = request.paramsValue() else { return .success(nil) }
        if let recover = params["recover"], recover != .null {
            guard let epoch = recover["epoch"]?.stringValue, let offset = recover["offset"]?.intValue, offset >= 0 else {
                return .failure(.invalidParams("\"recover\" must be {\"epoch\": string, \"offset\": integer >= 0}"))
            }
            return .success(.recover(epoch: epoch, offset: UInt64(offset)))
        }
        switch params["history"] {
        case .none, .some(.null), .some(.bool(false)): return .success(nil)
        case .some(.bool(true)): return .success(.position)
        case .some: return .failure(.invalidParams("\"history\" must be a boolean"))
        }
    }

    private static let historyKeys: [[UInt8]] = [Array(#""history""#.utf8), Array(#""recover""#.utf8)]
    static let presenceKeys: [[UInt8]] = [Array(#""presence""#.utf8)]

    /// Whether the params' bytes contain one of `needles` (quoted keys) at all: a subscribe's optional keys are
    /// looked for without parsing its params.
    static func paramsMention(_ request: JSONRPCRequest, _ needles: [[UInt8]]) -> Bool {
        guard let params = request.params else { return false }
        return request.source.withUnsafeReadableBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[params.range])
            for needle in needles where bytes.count >= needle.count {
                for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
                    if zip(bytes[start..<(start + needle.count)], needle).allSatisfy({ $0 == $1 }) { return true }
                }
            }
            return false
        }
    }

    /// Subscribes with a replay: the session is held (counted, its frames kept) until the owner's range is in,
    /// then answered, and right after the answer gets the replay and what arrived meanwhile, in offset order.
    func subscribeWithHistory(_ session: WebSocketSession, to channel: String, ask: HistoryAsk, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        guard cluster.historyEnabled else { return loop.makeSucceededFuture(.failure(.historyOff)) }
        if !session.channels.contains(channel), session.channels.count >= settings.maxChannelsPerConnection {
            return loop.makeSucceededFuture(.failure(.limitExceeded("at most \(settings.maxChannelsPerConnection) channels per connection")))
        }
        let alreadySubscribed = session.channels.contains(channel)
        let change = alreadySubscribed ? (added: false, activated: false) : hub.subscribe(session, to: channel, held: true)
        let visible = change.activated ? cluster.localChannelActivated(channel, on: loop) : cluster.whenVisible(channel, on: loop)
        let after: UInt64? = if case .recover(_, let offset) = ask { offset } else { nil }
        let cluster = self.cluster
        let bound = NIOLoopBound(session, eventLoop: loop)
        return visible.flatMap {
            cluster.historyRead(channel: channel, after: after, limit: after == nil ? 0 : nil, unixTime: Self.unixSeconds(), on: loop)
        }.map { [self] range -> Outcome in
            let session = bound.value
            guard let range else {
                if change.added, hub.unsubscribe(session, from: channel).deactivated { cluster.localChannelDeactivated(channel) }
                return .failure(.notAccepted("no owner of channel '\(channel)' answered in time"))
            }
            var result: [String: JSONValue] = ["subscribed": .bool(true), "epoch": .string(range.epoch), "offset": .int(Int(clamping: range.top))]
            var replay: [ByteBuffer] = []
            if case .recover(let epoch, let offset) = ask {
                let recovered = range.canRecover(epoch: epoch, after: offset)
                result["recovered"] = .bool(recovered)
                (recovered ? metrics.recoveriesTrue : metrics.recoveriesFalse).increment()
                if recovered { replay = range.entries.map { historyFrame(channel: channel, epoch: range.epoch, entry: $0) } }
            }
            if change.added {
                // After the answer is written (the session writes it when this future completes).
                let cut = range.top
                let frames = replay
                loop.execute { bound.value.shard.release(bound.value, from: channel, replay: frames, cut: cut) }
            }
            return .success(.object(result))
        }
    }

    /// The backend's `history`: the last `limit` kept messages (all when absent).
    func historyMethod(_ request: JSONRPCRequest, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        guard cluster.historyEnabled else { return loop.makeSucceededFuture(.failure(.historyOff)) }
        let channel: String
        switch request.channelParam() {
        case .failure(let error): return loop.makeSucceededFuture(.failure(error))
        case .success(let name): channel = name
        }
        var limit: Int?
        if let value = request.paramsValue()?["limit"], value != .null {
            guard let n = value.intValue, n >= 0 else { return loop.makeSucceededFuture(.failure(.invalidParams("\"limit\" must be an integer >= 0"))) }
            limit = n
        }
        return cluster.historyRead(channel: channel, after: nil, limit: limit, unixTime: Self.unixSeconds(), on: loop).map { range -> Outcome in
            guard let range else { return .failure(.notAccepted("no owner of channel '\(channel)' answered in time")) }
            let messages: [JSONValue] = range.entries.map { entry in
                .object(["offset": .int(Int(clamping: entry.offset)), "ts": .int(entry.timestamp), "data": Self.jsonValue(entry.data)])
            }
            return .success(.object(["epoch": .string(range.epoch), "offset": .int(Int(clamping: range.top)), "messages": .array(messages)]))
        }
    }

    /// A channel message with history on: given its offset by the owner, which delivers it everywhere (this
    /// node included, minus the `send_data` sender).
    func publishWithHistory(_ params: ChannelData, excluding session: WebSocketSession?, on loop: any EventLoop) -> EventLoopFuture<Result<(total: Int, nodes: Int, epoch: String, offset: UInt64), JSONRPCError>> {
        let started = ContinuousClock.now
        metrics.messagesIn.increment()
        let tag = historyTags.wrappingAdd(1, ordering: .relaxed).newValue
        let excluding = session != nil
        if let session { historySenders.withLockedValue { $0[tag] = HistorySender(session: session) } }
        return cluster.historyAppend(channel: params.channel, data: params.data, timestamp: Self.unixSeconds(), tag: tag, on: loop).map { [self] outcome in
            if excluding { historySenders.withLockedValue { _ = $0.removeValue(forKey: tag) } }
            switch outcome {
            case .notAccepted:
                return .failure(.notAccepted("the owner of channel '\(params.channel)' was not ready in time"))
            case .appended(let epoch, let offset, let counts):
                metrics.publishLatency.record(ContinuousClock.now - started)
                var total = 0
                var nodes = 0
                for count in counts where count.count > 0 {
                    total += count.count
                    nodes += 1
                }
                return .success((total, nodes, epoch, offset))
            }
        }
    }

    /// Delivers a history entry to this node's subscribers (the frame is built once, with its position).
    public func deliverHistory(channel: String, epoch: String, entry: History.Entry<ByteBuffer>) -> DeliveryReceipt {
        let excluded = entry.key.origin == historyOrigin ? historySenders.withLockedValue { $0[entry.key.id]?.session } : nil
        let receipt = hub.publish(to: channel, excluding: excluded, offset: entry.offset) {
            historyFrame(channel: channel, epoch: epoch, entry: entry)
        }
        metrics.messagesOut.increment(by: Int64(receipt.count))
        return receipt
    }

    private var historyOrigin: String { "\(cluster.localName)#\(cluster.localIncarnation)" }

    private func historyFrame(channel: String, epoch: String, entry: History.Entry<ByteBuffer>) -> ByteBuffer {
        PushFrame.make(data: entry.data, kind: .message, timestamp: entry.timestamp, channel: channel, position: (epoch, entry.offset), allocator: ByteBufferAllocator())
    }

    private static func jsonValue(_ data: ByteBuffer) -> JSONValue {
        data.withUnsafeReadableBytes { raw in (try? JSONValue(parsing: raw)) ?? .object([:]) }
    }
}
