import NIOCore
import Synchronization

extension WebSocketClient {
    /// Holds what arrived on the socket until someone asks for it: answers to pending
    /// ``WebSocketClient/call(method:params:timeout:)`` by id, everything else (pushed messages,
    /// id-less errors, the close) in arrival order.
    ///
    /// Fed from the channel's event loop; read from any task. Nothing is dropped: the queue is unbounded,
    /// so a test that ignores pushes while it calls still finds them afterwards.
    final class Mailbox: Sendable {
        private struct Waiter {
            var token: UInt64
            var continuation: CheckedContinuation<Event?, Never>
        }

        private struct Pending {
            var continuation: CheckedContinuation<JSONValue, any Error>
            var timer: Scheduled<Void>?
        }

        private struct State {
            var queue: [Event] = []
            var head = 0
            var waiters: [Waiter] = []
            var pending: [Int: Pending] = [:]
            var finished = false
            var closeError: ClientError?
            var nextToken: UInt64 = 0
        }

        private let state = Mutex(State())
        let eventLoop: any EventLoop

        init(eventLoop: any EventLoop) {
            self.eventLoop = eventLoop
        }

        // MARK: Producer side (event loop)

        /// A text frame arrived: resolves a pending call if it answers one, else queues it.
        func receive(text: String) {
            let hasPending = self.state.withLock { !$0.pending.isEmpty }
            if hasPending, text.utf8.count < 1 << 20, let value = try? JSONValue(parsing: text),
                JSONRPC.isResponse(value), let id = value["id"]?.intValue
            {
                let pending = self.state.withLock { $0.pending.removeValue(forKey: id) }
                if let pending {
                    pending.timer?.cancel()
                    pending.continuation.resume(returning: value)
                    return
                }
            }
            self.deliver(.text(text))
        }

        func deliver(_ event: Event) {
            let waiter: Waiter? = self.state.withLock { state in
                if state.finished { return nil }
                if case .close(let code, let reason) = event {
                    state.closeError = .connectionClosed(code: code, reason: reason)
                }
                if !state.waiters.isEmpty {
                    return state.waiters.removeFirst()
                }
                state.queue.append(event)
                return nil
            }
            waiter?.continuation.resume(returning: event)
        }

        /// The connection is gone: no more events; pending calls fail.
        func finish() {
            let (waiters, pending): ([Waiter], [Pending]) = self.state.withLock {
                state in
                if state.closeError == nil { state.closeError = .connectionClosed(reason: "connection lost") }
                state.finished = true
                defer {
                    state.waiters = []
                    state.pending = [:]
                }
                return (state.waiters, Array(state.pending.values))
            }
            for waiter in waiters { waiter.continuation.resume(returning: nil) }
            let error = self.state.withLock { $0.closeError } ?? .connectionClosed()
            for call in pending {
                call.timer?.cancel()
                call.continuation.resume(throwing: error)
            }
        }

        // MARK: Consumer side

        private func pop(_ state: inout State) -> Event? {
            guard state.head < state.queue.count else { return nil }
            let event = state.queue[state.head]
            state.head += 1
            if state.head > 1024, state.head * 2 > state.queue.count {
                state.queue.removeFirst(state.head)
                state.head = 0
            }
            return event
        }

        /// The next queued event; waits up to `timeout` (forever if `nil`); `nil` on timeout, on
        /// cancellation, or once the connection is finished and the queue drained.
        func next(timeout: Duration?) async -> Event? {
            if let event = self.state.withLock({ self.pop(&$0) }) { return event }
            let token = self.state.withLock { state -> UInt64 in
                state.nextToken += 1
                return state.nextToken
            }
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Event?, Never>) in
                    let immediate: Event?? = self.state.withLock { state in
                        if let event = self.pop(&state) { return .some(event) }
                        if state.finished { return .some(nil) }
                        state.waiters.append(Waiter(token: token, continuation: continuation))
                        return .none
                    }
                    if let immediate {
                        continuation.resume(returning: immediate)
                        return
                    }
                    if let timeout {
                        self.eventLoop.scheduleTask(in: TimeAmount(timeout)) { self.expire(token) }
                    }
                }
            } onCancel: {
                self.expire(token)
            }
        }

        private func expire(_ token: UInt64) {
            let waiter: Waiter? = self.state.withLock { state in
                guard let index = state.waiters.firstIndex(where: { $0.token == token }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: nil)
        }

        /// Registers interest in the response with `id`, then runs `send`; returns the whole response object.
        func awaitResponse(
            id: Int,
            timeout: Duration,
            send: @escaping @Sendable () -> EventLoopFuture<Void>
        ) async throws -> JSONValue {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONValue, any Error>) in
                let closed: ClientError? = self.state.withLock { state in
                    if state.finished { return state.closeError ?? .connectionClosed() }
                    state.pending[id] = Pending(continuation: continuation, timer: nil)
                    return nil
                }
                if let closed {
                    continuation.resume(throwing: closed)
                    return
                }
                let timer = self.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    self.fail(
                        id: id,
                        error: ClientError.timeout("no answer to JSON-RPC request \(id) within \(timeout)")
                    )
                }
                self.state.withLock { state in state.pending[id]?.timer = timer }
                send().whenFailure { error in
                    self.fail(id: id, error: ClientError.connectionClosed(reason: "request not sent: \(error)"))
                }
            }
        }

        private func fail(id: Int, error: any Error) {
            let pending = self.state.withLock { $0.pending.removeValue(forKey: id) }
            pending?.timer?.cancel()
            pending?.continuation.resume(throwing: error)
        }
    }
}
