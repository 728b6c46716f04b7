import NIOCore

extension NodeAPI {
    /// Handles a body taken from a queue exactly as a MessagesSource body (one request or a batch, the same
    /// methods and errors), except that every emit and notify_all waits for the cluster's counts, id or not:
    /// the future completes once the message was delivered locally and answered by every node it went to.
    public func handleQueuedBody(_ buffer: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<QueuedBodyOutcome> {
        switch JSONRPCParser.parse(buffer) {
        case .invalid:
            metrics.rpcErrors.increment()
            return loop.makeSucceededFuture(QueuedBodyOutcome(invalid: 1))
        case .single(let entry):
            return queued(entry, on: loop)
        case .batch(let entries):
            let outcomes = entries.map { queued($0, on: loop) }
            return EventLoopFuture.whenAllSucceed(outcomes, on: loop).map { $0.reduce(QueuedBodyOutcome(), +) }
        }
    }

    private func queued(_ entry: JSONRPCEntry, on loop: any EventLoop) -> EventLoopFuture<QueuedBodyOutcome> {
        switch entry {
        case .invalid:
            metrics.rpcErrors.increment()
            return loop.makeSucceededFuture(QueuedBodyOutcome(invalid: 1))
        case .request(let request):
            let publishes = request.method == "emit" || request.method == "notify_all"
            return backendMethod(request, on: loop, awaitCounts: true).map { [metrics] outcome in
                switch outcome {
                case .success: return publishes ? QueuedBodyOutcome(published: 1) : QueuedBodyOutcome(otherMethods: 1)
                case .failure:
                    metrics.rpcErrors.increment()
                    return QueuedBodyOutcome(invalid: 1)
                }
            }
        }
    }
}
