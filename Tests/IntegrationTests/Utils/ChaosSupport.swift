import Foundation
import RocketWSClient
import RocketWSTestKit
import Synchronization

/// A (channel, emitter) pair: the unit the contract orders messages by.
struct StreamKey: Hashable, Sendable, CustomStringConvertible {
    var channel: String
    var emitter: String
    var description: String { "\(channel)/\(emitter)" }
}

/// A WebSocket subscriber that reads everything pushed to it in a background task and records, per
/// (channel, emitter), the sequence numbers in arrival order. Pushed data must carry `"e"` (emitter id) and
/// `"s"` (sequence number).
final class RecordingSubscriber: Sendable {
    private struct State {
        var received: [StreamKey: [Int]] = [:]
        var total = 0
        var failure: String?
        var strays = 0
    }

    let name: String
    let channels: [String]
    let client: WebSocketClient
    private let state = Mutex(State())
    private let reader = Mutex<Task<Void, Never>?>(nil)

    private init(name: String, channels: [String], client: WebSocketClient) {
        self.name = name
        self.channels = channels
        self.client = client
    }

    /// Connects to `port`, subscribes to every channel (each acknowledged) and starts reading.
    static func start(name: String, port: Int, channels: [String], host: String = "127.0.0.1") async throws -> RecordingSubscriber {
        let client = try await WebSocketClient.connect(host: host, port: port)
        let subscriber = RecordingSubscriber(name: name, channels: channels, client: client)
        for channel in channels { try await client.subscribe(channel) }
        subscriber.reader.withLock { $0 = Task { await subscriber.readLoop() } }
        return subscriber
    }

    private func readLoop() async {
        while !Task.isCancelled {
            do {
                guard let message = try await client.nextMessage(timeout: .milliseconds(500)) else {
                    if !client.channel.isActive {
                        state.withLock { $0.failure = $0.failure ?? "connection lost" }
                        return
                    }
                    continue
                }
                record(message)
            } catch {
                state.withLock { $0.failure = $0.failure ?? "\(error)" }
                return
            }
        }
    }

    private func record(_ message: JSONValue) {
        state.withLock { state in
            guard let emitter = message["e"]?.stringValue, let seq = message["s"]?.intValue,
                let channel = message["__channel"]?.stringValue, channels.contains(channel)
            else {
                state.strays += 1
                return
            }
            state.received[StreamKey(channel: channel, emitter: emitter), default: []].append(seq)
            state.total += 1
        }
    }

    func received(_ key: StreamKey) -> [Int] { state.withLock { $0.received[key] ?? [] } }
    var total: Int { state.withLock { $0.total } }
    /// Why reading stopped early (connection closed or lost), if it did.
    var failure: String? { state.withLock { $0.failure } }
    /// Pushed messages that were not a well-formed message of a subscribed channel.
    var strays: Int { state.withLock { $0.strays } }

    /// Stops reading and closes the connection.
    func stop() async {
        let task = reader.withLock { $0 }
        task?.cancel()
        await task?.value
        await client.abort()
    }
}

/// A backend emitting numbered messages (`{"e": id, "s": seq}`) round-robin over its channels on one
/// keep-alive MessagesSource connection, one request at a time, until stopped. A message is *accepted*
/// when the emit call returned a result; a call that failed is *uncertain* (it may or may not have been delivered).
final class SequenceEmitter: Sendable {
    private struct State {
        var accepted: [String: [Int]] = [:]
        var uncertain: [String: [Int]] = [:]
        var errors: [String] = []
        var slowest: Duration = .zero
        var fewestEmitted: [String: Int] = [:]
    }

    let id: String
    let channels: [String]
    private let backend: MessagesSourceClient
    private let pause: Duration
    private let state = Mutex(State())
    private let stopped = Atomic(false)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(id: String, port: Int, channels: [String], pause: Duration = .milliseconds(4), host: String = "127.0.0.1", requestTimeout: Duration = .seconds(20)) {
        self.id = id
        self.channels = channels
        self.pause = pause
        backend = MessagesSourceClient(host: host, port: port, requestTimeout: requestTimeout)
    }

    func start() {
        task.withLock { $0 = Task { await self.run() } }
    }

    private func run() async {
        var next: [String: Int] = [:]
        var turn = 0
        while !stopped.load(ordering: .relaxed) {
            let channel = channels[turn % channels.count]
            turn += 1
            let seq = next[channel, default: 0]
            next[channel] = seq + 1
            let started = ContinuousClock.now
            do {
                let result = try await backend.call(
                    method: "emit",
                    params: ["channel": .string(channel), "data": ["e": .string(id), "s": .int(seq)]]
                )
                let took = ContinuousClock.now - started
                let emitted = result["emitted"]?.intValue ?? -1
                state.withLock { state in
                    state.accepted[channel, default: []].append(seq)
                    state.slowest = max(state.slowest, took)
                    state.fewestEmitted[channel] = min(state.fewestEmitted[channel] ?? .max, emitted)
                }
            } catch {
                state.withLock { state in
                    state.uncertain[channel, default: []].append(seq)
                    state.errors.append("\(channel)#\(seq): \(error)")
                }
            }
            try? await Task.sleep(for: pause)
        }
    }

    /// Stops emitting and waits for the call in flight.
    func stop() async {
        stopped.store(true, ordering: .relaxed)
        let running = task.withLock { $0 }
        await running?.value
        try? await backend.close()
    }

    func accepted(_ channel: String) -> [Int] { state.withLock { $0.accepted[channel] ?? [] } }
    func uncertain(_ channel: String) -> [Int] { state.withLock { $0.uncertain[channel] ?? [] } }
    var acceptedCount: Int { state.withLock { $0.accepted.values.reduce(0) { $0 + $1.count } } }
    var errors: [String] { state.withLock { $0.errors } }
    var slowest: Duration { state.withLock { $0.slowest } }
    /// The smallest `emitted` count answered per channel.
    var fewestEmitted: [String: Int] { state.withLock { $0.fewestEmitted } }
}

/// What went wrong with one (channel, emitter) stream as one subscriber saw it; empty when it received
/// every accepted message exactly once, in increasing order, and nothing that was not emitted.
func streamProblems(received: [Int], accepted: [Int], uncertain: [Int]) -> [String] {
    var problems: [String] = []
    let receivedSet = Set(received)
    if receivedSet.count != received.count {
        var seen = Set<Int>()
        let duplicates = received.filter { !seen.insert($0).inserted }
        problems.append("\(duplicates.count) duplicated (first: \(Array(duplicates.prefix(5))))")
    }
    if let i = received.indices.dropFirst().first(where: { received[$0 - 1] >= received[$0] }).map({ $0 - 1 }) {
        problems.append("out of order at index \(i + 1): \(received[i]) then \(received[i + 1])")
    }
    let lost = accepted.filter { !receivedSet.contains($0) }
    if !lost.isEmpty { problems.append("\(lost.count) of \(accepted.count) accepted lost (first: \(Array(lost.prefix(5))))") }
    let possible = Set(accepted).union(uncertain)
    let invented = received.filter { !possible.contains($0) }
    if !invented.isEmpty { problems.append("\(invented.count) never emitted (first: \(Array(invented.prefix(5))))") }
    return problems
}

/// Samples the resident set size of some processes at a fixed period.
final class RSSSampler: Sendable {
    private let samples = Mutex<[String: [Int]]>([:])
    private let task = Mutex<Task<Void, Never>?>(nil)

    func start(_ nodes: [NodeProcess], every period: Duration = .milliseconds(250)) {
        task.withLock {
            $0 = Task {
                while !Task.isCancelled {
                    self.sample(nodes)
                    try? await Task.sleep(for: period)
                }
            }
        }
    }

    func sample(_ nodes: [NodeProcess]) {
        let values = nodes.map { ($0.name, $0.residentKiB) }
        samples.withLock { samples in
            for (name, kib) in values { if let kib { samples[name, default: []].append(kib) } }
        }
    }

    func stop() async {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
    }

    /// (first, peak, last) in KiB.
    func summary(_ name: String) -> (first: Int, peak: Int, last: Int)? {
        samples.withLock { samples in
            guard let values = samples[name], let first = values.first, let last = values.last else { return nil }
            return (first, values.max() ?? last, last)
        }
    }
}
