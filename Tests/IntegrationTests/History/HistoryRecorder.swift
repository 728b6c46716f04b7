import Foundation
import RocketWSClient
import RocketWSTestKit
import Synchronization

/// A WebSocket client of one history channel that records every pushed message's position and `k`.
final class HistoryRecorder: Sendable {
    struct Seen: Equatable, Sendable {
        var epoch: String
        var offset: Int
        var k: Int
    }

    let client: WebSocketClient
    let channel: String
    private let seen = Mutex<[Seen]>([])
    private let reader = Mutex<Task<Void, Never>?>(nil)

    /// The answer of the subscribe that started it.
    let answer: JSONValue

    /// Connects to `port` and subscribes with `recover` (when given) or `history: true`.
    static func start(port: Int, channel: String, recover: (epoch: String, offset: Int)? = nil) async throws -> HistoryRecorder {
        let client = try await WebSocketClient.connect(host: "127.0.0.1", port: port)
        var params: [String: JSONValue] = ["channel": .string(channel)]
        if let recover {
            params["recover"] = .object(["epoch": .string(recover.epoch), "offset": .int(recover.offset)])
        } else {
            params["history"] = .bool(true)
        }
        let answer = try await client.call(method: "subscribe", params: .object(params))
        let recorder = HistoryRecorder(client: client, channel: channel, answer: answer)
        recorder.startReading()
        return recorder
    }

    private init(client: WebSocketClient, channel: String, answer: JSONValue) {
        self.client = client
        self.channel = channel
        self.answer = answer
    }

    private func startReading() {
        let task = Task { [self] in
            while !Task.isCancelled {
                guard let message = try? await client.nextMessage(timeout: .seconds(3600)) else { return }
                guard message["__channel"]?.stringValue == channel, let epoch = message["__epoch"]?.stringValue,
                    let offset = message["__offset"]?.intValue, let k = message["k"]?.intValue
                else { continue }
                seen.withLock { $0.append(Seen(epoch: epoch, offset: offset, k: k)) }
            }
        }
        reader.withLock { $0 = task }
    }

    var messages: [Seen] { seen.withLock { $0 } }
    var last: Seen? { messages.last }

    func stop() async {
        reader.withLock { $0?.cancel() }
        await client.abort()
    }
}

/// Emits `{"k": n}` to one channel through one node's backend, n = 1, 2, ... until stopped, and records the
/// answered ones (position and `k`); a refused emit (-32006, or the node gone) is retried with the next `k`.
final class HistoryEmitter: Sendable {
    struct Answered: Sendable {
        var epoch: String
        var offset: Int
        var k: Int
    }

    private let backend: Mutex<MessagesSourceClient>
    private let channel: String
    private let answered = Mutex<[Answered]>([])
    private let refused = Mutex(0)
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let interval: Duration

    init(port: Int, channel: String, interval: Duration = .milliseconds(20)) {
        backend = Mutex(MessagesSourceClient(host: "127.0.0.1", port: port, requestTimeout: .seconds(10)))
        self.channel = channel
        self.interval = interval
    }

    /// Sends the following emits to another node.
    func switchTo(port: Int) {
        backend.withLock { $0 = MessagesSourceClient(host: "127.0.0.1", port: port, requestTimeout: .seconds(10)) }
    }

    func start(from first: Int = 1) {
        let task = Task { [self] in
            var k = first
            while !Task.isCancelled {
                _ = await emit(k)
                k += 1
                try? await Task.sleep(for: interval)
            }
        }
        self.task.withLock { $0 = task }
    }

    /// One emit; true when answered with a position.
    @discardableResult
    func emit(_ k: Int) async -> Bool {
        let client = backend.withLock { $0 }
        guard let result = try? await client.call(method: "emit", params: ["channel": .string(channel), "data": ["k": .int(k)]]),
            let epoch = result["epoch"]?.stringValue, let offset = result["offset"]?.intValue
        else {
            refused.withLock { $0 += 1 }
            return false
        }
        answered.withLock { $0.append(Answered(epoch: epoch, offset: offset, k: k)) }
        return true
    }

    func stop() async {
        let task = self.task.withLock { $0 }
        task?.cancel()
        await task?.value
    }

    var answers: [Answered] { answered.withLock { $0 } }
    var refusals: Int { refused.withLock { $0 } }
}
