import NIOCore
import NIOPosix
import Synchronization

/// The load generator behind `rocketws-admin bench`: WebSocket subscribers on one channel spread
/// over several nodes, emitters on one node's MessagesSource, latency from the `t` each message carries.
public enum Bench {
    public struct Configuration: Sendable {
        /// WebSocket endpoints; subscribers are spread over them round-robin.
        public var webSockets: [Endpoint] = [Endpoint(scheme: "ws", host: "127.0.0.1", port: 58000)]
        /// The MessagesSource the emitters post to.
        public var messagesSource = Endpoint(scheme: "http", host: "127.0.0.1", port: 59999)
        public var apiKey: String?
        public var channel = "bench"
        public var subscribers = 1000
        /// Keep-alive HTTP connections emitting in parallel.
        public var publishers = 4
        public var messages = 20000
        /// Emits per second over all publishers; `nil` means as fast as they are accepted.
        public var rate: Double?
        /// Send JSON-RPC notifications (answered 204) instead of requests.
        public var notify = false
        /// Stop waiting for deliveries after this long without one.
        public var idleTimeout: Duration = .seconds(5)
        /// Subscribers connecting at the same time.
        public var connectConcurrency = 64

        public init() {}
    }

    public struct Report: Sendable, Equatable {
        public var subscribers: Int
        public var publishers: Int
        public var messages: Int
        /// Emits the node accepted (answered without error).
        public var accepted: Int
        public var emitErrors: Int
        public var expected: Int
        public var delivered: Int
        public var lost: Int
        public var duplicated: Int
        public var emitSeconds: Double
        public var deliverySeconds: Double
        public var latency: LatencyHistogram
        public var notify: Bool
        /// Sum of the `emitted` counts the node reported (emit mode).
        public var reportedEmitted: Int

        public init(
            subscribers: Int,
            publishers: Int,
            messages: Int,
            accepted: Int,
            emitErrors: Int,
            expected: Int,
            delivered: Int,
            lost: Int,
            duplicated: Int,
            emitSeconds: Double,
            deliverySeconds: Double,
            latency: LatencyHistogram,
            notify: Bool,
            reportedEmitted: Int
        ) {
            self.subscribers = subscribers
            self.publishers = publishers
            self.messages = messages
            self.accepted = accepted
            self.emitErrors = emitErrors
            self.expected = expected
            self.delivered = delivered
            self.lost = lost
            self.duplicated = duplicated
            self.emitSeconds = emitSeconds
            self.deliverySeconds = deliverySeconds
            self.latency = latency
            self.notify = notify
            self.reportedEmitted = reportedEmitted
        }

        public var emitsPerSecond: Double { self.emitSeconds > 0 ? Double(self.accepted) / self.emitSeconds : 0 }
        public var deliveriesPerSecond: Double {
            self.deliverySeconds > 0 ? Double(self.delivered) / self.deliverySeconds : 0
        }

        /// The report as flat JSON (`rocketws-admin bench --json`, read by `scripts/bench.sh`).
        public var json: JSONValue {
            func ms(_ micros: Double) -> JSONValue { .double((micros / 10).rounded() / 100) }
            return [
                "mode": self.notify ? "notify" : "emit",
                "subscribers": .int(self.subscribers),
                "publishers": .int(self.publishers),
                "messages": .int(self.messages),
                "accepted": .int(self.accepted),
                "emit_errors": .int(self.emitErrors),
                "expected": .int(self.expected),
                "delivered": .int(self.delivered),
                "lost": .int(self.lost),
                "duplicated": .int(self.duplicated),
                "emit_seconds": .double((self.emitSeconds * 1000).rounded() / 1000),
                "delivery_seconds": .double((self.deliverySeconds * 1000).rounded() / 1000),
                "emits_per_second": .double(self.emitsPerSecond.rounded()),
                "deliveries_per_second": .double(self.deliveriesPerSecond.rounded()),
                "p50_ms": ms(Double(self.latency.percentile(0.5))),
                "p99_ms": ms(Double(self.latency.percentile(0.99))),
                "max_ms": ms(Double(self.latency.maxMicros)),
                "mean_ms": ms(self.latency.meanMicros),
            ]
        }
    }

    /// Runs one benchmark: connect and subscribe everyone, emit, wait for deliveries (or the idle
    /// timeout), close everything. `progress` gets one line per phase.
    public static func run(
        _ configuration: Configuration,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> Report {
        precondition(!configuration.webSockets.isEmpty && configuration.subscribers > 0 && configuration.publishers > 0)
        let loops = Array(group.makeIterator())
        let recorders = loops.map { _ in Recorder(messages: configuration.messages) }

        // 1. Subscribers.
        progress("connecting \(configuration.subscribers) subscribers to \(configuration.webSockets.count) node(s)")
        let clients = try await self.connectSubscribers(configuration, loops: loops, recorders: recorders)

        // 2. Emitters.
        progress("emitting \(configuration.messages) messages over \(configuration.publishers) connection(s)")
        let emit: EmitOutcome
        do {
            emit = try await self.emitAll(configuration, on: group)
        } catch {
            await self.closeAll(clients)
            throw error
        }

        // 3. Deliveries.
        progress("waiting for deliveries")
        let expectedPerSubscriber = emit.accepted
        let expected = expectedPerSubscriber * configuration.subscribers
        var lastTotal = -1
        var lastProgress = ContinuousClock.now
        while true {
            let total = recorders.reduce(0) { $0 + $1.snapshot().unique }
            if total >= expected { break }
            if total != lastTotal {
                lastTotal = total
                lastProgress = .now
            } else if ContinuousClock.now - lastProgress > configuration.idleTimeout {
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await self.closeAll(clients)

        var histogram = LatencyHistogram()
        var delivered = 0
        var duplicated = 0
        var lastReceive = emit.startNanos
        var lost = 0
        for recorder in recorders {
            let snapshot = recorder.snapshot()
            histogram.merge(snapshot.histogram)
            delivered += snapshot.unique
            duplicated += snapshot.duplicates
            lastReceive = max(lastReceive, snapshot.lastReceiveNanos)
            lost += recorder.missing(accepted: emit.acceptedSeqs)
        }
        return Report(
            subscribers: configuration.subscribers,
            publishers: configuration.publishers,
            messages: configuration.messages,
            accepted: emit.accepted,
            emitErrors: emit.errors,
            expected: expected,
            delivered: delivered,
            lost: lost,
            duplicated: duplicated,
            emitSeconds: Double(emit.endNanos - emit.startNanos) / 1e9,
            deliverySeconds: Double(lastReceive - emit.startNanos) / 1e9,
            latency: histogram,
            notify: configuration.notify,
            reportedEmitted: emit.reportedEmitted
        )
    }

    // MARK: Subscribers

    private static func connectSubscribers(
        _ configuration: Configuration,
        loops: [any EventLoop],
        recorders: [Recorder]
    ) async throws -> [WebSocketClient] {
        try await withThrowingTaskGroup(of: WebSocketClient.self) { group in
            var clients: [WebSocketClient] = []
            clients.reserveCapacity(configuration.subscribers)
            var next = 0
            func start() {
                let index = next
                next += 1
                let loop = loops[index % loops.count]
                let recorder = recorders[index % loops.count]
                let slot = recorder.addSubscriber()
                let endpoint = configuration.webSockets[index % configuration.webSockets.count]
                group.addTask {
                    let client = try await WebSocketClient.connect(
                        to: endpoint,
                        textTap: { buffer in
                            guard let probe = Bench.probe(buffer) else { return false }
                            recorder.record(slot: slot, seq: probe.seq, sentNanos: probe.t)
                            return true
                        },
                        on: loop
                    )
                    do {
                        try await client.subscribe(configuration.channel)
                    } catch {
                        await client.abort()
                        throw error
                    }
                    return client
                }
            }
            while next < min(configuration.connectConcurrency, configuration.subscribers) { start() }
            do {
                while let client = try await group.next() {
                    clients.append(client)
                    if next < configuration.subscribers { start() }
                }
            } catch {
                group.cancelAll()
                await self.closeAll(clients)
                throw error
            }
            return clients
        }
    }

    private static func closeAll(_ clients: [WebSocketClient]) async {
        await withTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask { try? await client.close(timeout: .seconds(2)) }
            }
        }
    }

    // MARK: Emitters

    /// The sequence counter and the accepted-emits map the publisher tasks share.
    private final class EmitShared: Sendable {
        private let counter = Mutex(0)
        private let accepted: Mutex<[Bool]>

        init(messages: Int) {
            self.accepted = Mutex([Bool](repeating: false, count: messages))
        }

        func nextSeq() -> Int {
            self.counter.withLock { value in
                defer { value += 1 }
                return value
            }
        }

        func accept(_ seq: Int) { self.accepted.withLock { $0[seq] = true } }
        func acceptedSeqs() -> [Bool] { self.accepted.withLock { $0 } }
    }

    private struct EmitOutcome {
        var accepted = 0
        var errors = 0
        var reportedEmitted = 0
        var acceptedSeqs: [Bool] = []
        var startNanos = 0
        var endNanos = 0
    }

    private static func emitAll(
        _ configuration: Configuration,
        on group: any EventLoopGroup
    ) async throws
        -> EmitOutcome
    {
        let shared = EmitShared(messages: configuration.messages)
        let clients = (0..<configuration.publishers).map { _ in
            MessagesSourceClient(endpoint: configuration.messagesSource, apiKey: configuration.apiKey, on: group)
        }
        // Open every connection (and fail early on a wrong address or key) before the clock starts.
        for client in clients { _ = try await client.call(method: "ping") }

        let start = ContinuousClock.now
        let startNanos = self.unixNanos()
        let channel = JSONValue.string(configuration.channel)
        let (errors, reported) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for client in clients {
                group.addTask {
                    var errors = 0
                    var reported = 0
                    while true {
                        let seq = shared.nextSeq()
                        guard seq < configuration.messages else { break }
                        if let rate = configuration.rate, rate > 0 {
                            try await Task.sleep(until: start.advanced(by: .seconds(Double(seq) / rate)))
                        }
                        let params: JSONValue = [
                            "channel": channel,
                            "data": ["seq": .int(seq), "t": .int(Bench.unixNanos())],
                        ]
                        do {
                            if configuration.notify {
                                try await client.notify(method: "emit", params: params)
                            } else {
                                let result = try await client.call(method: "emit", params: params)
                                reported += result["emitted"]?.intValue ?? 0
                            }
                            shared.accept(seq)
                        } catch let error as ClientError where error.isConnectFailure {
                            throw error
                        } catch {
                            errors += 1
                        }
                    }
                    return (errors, reported)
                }
            }
            var totals = (0, 0)
            for try await (errors, reported) in group {
                totals.0 += errors
                totals.1 += reported
            }
            return totals
        }
        let endNanos = self.unixNanos()
        for client in clients { try? await client.close() }
        let seqs = shared.acceptedSeqs()
        return EmitOutcome(
            accepted: seqs.lazy.filter { $0 }.count,
            errors: errors,
            reportedEmitted: reported,
            acceptedSeqs: seqs,
            startNanos: startNanos,
            endNanos: endNanos
        )
    }
}
