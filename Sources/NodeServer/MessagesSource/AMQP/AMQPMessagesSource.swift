import AMQP
import Logging
import NIOCore
import NIOPosix

/// The RabbitMQ message source, as the original RocketWS had: every node consumes one durable queue (the
/// broker hands each message to one of them), each message body is one JSON-RPC request or batch handled as a
/// MessagesSource POST body, and a message is acknowledged only once its emit was answered by the cluster. A
/// node that dies before acknowledging leaves its messages to be redelivered to another: at-least-once.
///
/// The protocol is `AMQPConsumerStateMachine`; this class only carries out its actions on one event loop
/// (connect, write, timers, hand a body to the node). Every mutable field is touched on `loop` only.
public final class AMQPMessagesSource: MessagesSource, @unchecked Sendable {
    public let name = "amqp"
    private let loop: any EventLoop
    private let logger: Logger
    private let metrics: AMQPSourceMetrics
    private var machine: AMQPConsumerStateMachine
    private let api: any BackendAPI
    private var started = false
    /// The current connection attempt (events of an earlier one are ignored).
    private var attempt: UInt64 = 0
    private var channel: (any Channel)?
    private var tick: Scheduled<Void>?
    private var reconnect: Scheduled<Void>?
    private var flushPending = false
    private var stoppedPromise: EventLoopPromise<Void>?

    init(
        settings: AMQPSourceSettings, nodeName: String, maxBodyBytes: Int, api: any BackendAPI, loop: any EventLoop, metrics: AMQPSourceMetrics,
        logger: Logger
    ) {
        self.api = api
        self.machine = AMQPConsumerStateMachine(settings: settings.consumerSettings(nodeName: nodeName, maxBodyBytes: maxBodyBytes))
        self.loop = loop
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "amqp/broker"] = "\(settings.url)"
        logger[metadataKey: "amqp/queue"] = "\(settings.queue)"
        self.logger = logger
    }

    /// Starts consuming in the background (once; a broker that is not there yet is retried); returns 0 (no port).
    public func start() async throws -> Int {
        try await loop.submit {
            guard !self.started else { return }
            self.started = true
            self.run(self.machine.start(now: .now()))
        }.get()
        return 0
    }

    /// Stops taking messages, lets the ones in hand be answered and acknowledged (bounded), closes.
    public func stop() async {
        let promise = loop.makePromise(of: Void.self)
        let settings = machine.settings
        loop.execute {
            if self.machine.isStopped { return promise.succeed() }
            if let pending = self.stoppedPromise { return pending.futureResult.cascade(to: promise) }
            self.stoppedPromise = promise
            self.reconnect?.cancel()
            self.run(self.machine.stop(now: .now()))
            if self.machine.isStopped { self.finishStop() }
        }
        // A broker that never answers does not hold the node's shutdown.
        let bound = settings.drainTimeout + settings.closeTimeout + .seconds(1)
        let timeout = loop.scheduleTask(in: bound) {
            self.channel?.close(promise: nil)
            self.finishStop()
        }
        try? await promise.futureResult.get()
        timeout.cancel()
    }

    private func finishStop() {
        tick?.cancel()
        reconnect?.cancel()
        let promise = stoppedPromise
        stoppedPromise = nil
        promise?.succeed()
    }

    // MARK: Transport events (from AMQPConnectionHandler, on the loop)

    func transportOpened(_ channel: any Channel, attempt: UInt64) {
        guard attempt == self.attempt else { return }
        self.channel = channel
        run(machine.transportOpened(now: .now()))
    }

    func bytesReceived(_ bytes: ByteBuffer, attempt: UInt64) {
        guard attempt == self.attempt else { return }
        run(machine.bytesReceived(bytes, now: .now()))
    }

    func transportClosed(error: String?, attempt: UInt64) {
        guard attempt == self.attempt else { return }
        channel = nil
        tick?.cancel()
        self.attempt += 1  // nothing more from this connection
        run(machine.transportClosed(error: error, now: .now()))
    }

    func transportError(_ error: any Error, attempt: UInt64) {
        guard attempt == self.attempt else { return }
        logger.debug("broker connection error", metadata: ["error": "\(error)"])
    }

    // MARK: Actions

    private func run(_ actions: [AMQPConsumerAction]) {
        for action in actions {
            switch action {
            case .openTransport:
                connect()
            case .send(let bytes):
                guard let channel else { continue }
                channel.write(bytes, promise: nil)
                scheduleFlush()
            case .scheduleTick(let deadline):
                tick?.cancel()
                tick = loop.scheduleTask(deadline: deadline) { self.run(self.machine.tick(now: .now())) }
            case .deliver(let delivery):
                handle(delivery)
            case .consuming(let queue, let messages, let consumers):
                metrics.connected.set(1.0)
                logger.info("consuming the RabbitMQ queue", metadata: ["amqp/queue": "\(queue)", "amqp/ready": "\(messages)", "amqp/consumers": "\(consumers)"])
            case .discardedOversized(let size):
                metrics.messages.increment()
                metrics.invalid.increment()
                logger.warning("queued message over the size limit acknowledged and dropped", metadata: ["amqp/bytes": "\(size)"])
            case .closeTransport:
                channel?.flush()
                channel?.close(promise: nil)
            case .disconnected(let reason):
                metrics.connected.set(0.0)
                if reason == .stopped {
                    logger.info("RabbitMQ source stopped")
                } else {
                    logger.warning("RabbitMQ connection lost, reconnecting", metadata: ["amqp/reason": "\(reason)"])
                }
            case .scheduleReconnect(let delay):
                reconnect = loop.scheduleTask(in: delay) {
                    self.metrics.reconnects.increment()
                    self.run(self.machine.reconnectDue(now: .now()))
                }
            case .stopped:
                finishStop()
            }
        }
    }

    /// Writes made while handling one batch of events go out in one flush.
    private func scheduleFlush() {
        guard !flushPending else { return }
        flushPending = true
        loop.execute {
            self.flushPending = false
            self.channel?.flush()
        }
    }

    private func connect() {
        let url = machine.settings.url
        let attempt = self.attempt
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AMQPConnectionHandler(source: self, attempt: attempt))
                }
            }
            .connect(host: url.host, port: url.port)
            .whenFailure { error in
                // Never active: the handler saw nothing, so the failure is reported here.
                self.transportClosed(error: "\(error)", attempt: attempt)
            }
    }

    private func handle(_ delivery: AMQPDelivery) {
        metrics.messages.increment()
        if delivery.redelivered { metrics.redelivered.increment() }
        api.handleQueuedBody(delivery.body, on: loop).hop(to: loop).whenComplete { result in
            switch result {
            case .success(let outcome):
                if outcome.invalid > 0 { self.metrics.invalid.increment(by: Int64(outcome.invalid)) }
                if outcome.otherMethods > 0 { self.metrics.otherMethods.increment(by: Int64(outcome.otherMethods)) }
                self.run(self.machine.handled(delivery, now: .now()))
            case .failure(let error):
                self.metrics.requeued.increment()
                self.logger.warning("queued message failed, given back to the queue", metadata: ["error": "\(error)"])
                self.run(self.machine.handled(delivery, requeue: true, now: .now()))
            }
        }
    }
}
