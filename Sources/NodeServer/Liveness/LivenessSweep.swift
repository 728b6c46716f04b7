import NIOCore

/// A connection the liveness sweep looks after: it keeps its `ConnectionLiveness` and acts on its verdicts.
protocol SweptConnection: AnyObject {
    /// Where the connection sits in its sweep's list (maintained by the sweep).
    var sweepSlot: Int { get set }
    /// Advances the connection's ping rule to `now`.
    func livenessTick(now: NIODeadline) -> ConnectionLiveness.Action
    /// Sends the connection `frame`, an encoded ping (the same bytes for every connection).
    func sendLivenessPing(_ frame: ByteBuffer)
    /// Drops the connection: it answered nothing within the pong timeout.
    func dropSilent()
}

/// One event loop's timer for the ping rule: one repeating task per loop that scans that loop's connections,
/// instead of one timer per connection. Registration and removal are O(1) (a slot index in each
/// connection); a tick costs one pass over the loop's connections and allocates only when some must be
/// pinged or dropped. Used only on its loop.
final class LivenessSweep: @unchecked Sendable {
    let loop: any EventLoop
    let settings: LivenessSettings
    private var connections: [any SweptConnection] = []
    private var task: RepeatedTask?
    /// An empty ping frame, encoded once and shared by every ping this loop sends.
    private let pingFrame = WebSocketFrameBytes.ping(ByteBuffer(), allocator: ByteBufferAllocator())

    init(loop: any EventLoop, settings: LivenessSettings) {
        self.loop = loop
        self.settings = settings
    }

    /// Connections currently watched.
    var count: Int {
        loop.preconditionInEventLoop()
        return connections.count
    }

    /// Starts the repeating scan.
    func start() {
        let period = settings.sweepPeriod
        loop.execute { [self] in
            guard task == nil else { return }
            task = loop.scheduleRepeatedTask(initialDelay: period, delay: period) { [self] _ in tick(now: .now()) }
        }
    }

    /// Stops the scan (the loop's shutdown also ends it).
    func stop() {
        loop.execute { [self] in
            task?.cancel()
            task = nil
        }
    }

    func register(_ connection: any SweptConnection) {
        loop.preconditionInEventLoop()
        connection.sweepSlot = connections.count
        connections.append(connection)
    }

    func unregister(_ connection: any SweptConnection) {
        loop.preconditionInEventLoop()
        let slot = connection.sweepSlot
        guard slot >= 0, slot < connections.count, connections[slot] === connection else { return }
        let last = connections.removeLast()
        if slot < connections.count {
            connections[slot] = last
            last.sweepSlot = slot
        }
        connection.sweepSlot = -1
    }

    /// One pass: decisions first, actions after (an action may close a connection, which unregisters it).
    func tick(now: NIODeadline) {
        var pings: [any SweptConnection] = []
        var drops: [any SweptConnection] = []
        for connection in connections {
            switch connection.livenessTick(now: now) {
            case .none: break
            case .sendPing: pings.append(connection)
            case .drop: drops.append(connection)
            }
        }
        for connection in pings { connection.sendLivenessPing(pingFrame) }
        for connection in drops { connection.dropSilent() }
    }
}
