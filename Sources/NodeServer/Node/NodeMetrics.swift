import protocol CoreMetrics.MetricsFactory
import Prometheus

/// The node's metrics: one Prometheus registry per node (so several nodes can live in one process), which
/// `GET /metrics` renders. The node's own counters and gauges are declared here; libraries (ClusterKit: the
/// cluster shell and the peer mesh) count through swift-metrics' API into the same registry, by `factory`.
public final class NodeMetrics: Sendable {
    /// The registry `GET /metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// swift-metrics' view of `registry`, handed to libraries that count for the node.
    public let factory: any MetricsFactory

    let connections: Gauge
    let subscriptions: Gauge
    let channels: Gauge
    let connectionsOpened: Counter
    let clientRequests: Counter
    let backendRequests: Counter
    let messagesIn: Counter
    let broadcastsIn: Counter
    let messagesOut: Counter
    let forwardsReceived: Counter
    let slowClientsClosed: Counter
    let refusedUpgrades: Counter
    let rpcErrors: Counter
    let unauthorized: Counter
    let publishLatency: DurationHistogram
    let peersAlive: Gauge
    let peersSuspect: Gauge
    let peersDead: Gauge
    let peersLeft: Gauge
    let fanOutWindow: Gauge
    let clientsTimedOut: Counter
    let handshakeTimeouts: Counter
    let tokensRefused: Counter
    let presenceEventsOut: Counter
    let historyMessages: Gauge
    let historyBytes: Gauge
    let recoveriesTrue: Counter
    let recoveriesFalse: Counter

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        self.factory = PrometheusMetricsFactory(registry: registry)
        connections = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "connections", unitName: "", helpText: "Connected WebSocket clients"))
        subscriptions = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "subscriptions", unitName: "", helpText: "Channel subscriptions of local clients"))
        channels = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "channels", unitName: "", helpText: "Channels with local subscribers"))
        connectionsOpened = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "connections_opened_total", unitName: "", helpText: "WebSocket connections accepted"))
        clientRequests = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "client_requests_total", unitName: "", helpText: "JSON-RPC messages from WebSocket clients"))
        backendRequests = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "backend_requests_total", unitName: "", helpText: "HTTP requests to the MessagesSource"))
        messagesIn = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "messages_in_total", unitName: "", helpText: "Channel messages accepted (emit, send_data)"))
        broadcastsIn = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "broadcasts_in_total", unitName: "", helpText: "notify_all messages accepted"))
        messagesOut = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "messages_out_total", unitName: "", helpText: "Messages written to local clients"))
        forwardsReceived = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "forwards_received_total", unitName: "", helpText: "Messages received from peer nodes"))
        slowClientsClosed = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "dropped_slow_clients_total", unitName: "", helpText: "Clients closed (1008) because their send queue overflowed"))
        refusedUpgrades = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "refused_upgrades_total", unitName: "", helpText: "WebSocket upgrades refused (path, origin, limit)"))
        rpcErrors = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "rpc_errors_total", unitName: "", helpText: "JSON-RPC error answers"))
        unauthorized = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "unauthorized_total", unitName: "", helpText: "MessagesSource requests refused with 401"))
        publishLatency = registry.makeDurationHistogram(
            descriptor: .init(
                namespace: "rocketws",
                metricName: "publish_latency",
                unitName: "seconds",
                helpText: "From accepting a message to its local writes being queued and its forwards acknowledged"
            ),
            buckets: [.microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                      .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1)]
        )
        peersAlive = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peers", unitName: "", helpText: "Cluster members by state"), labels: [("state", "alive")])
        peersSuspect = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peers", unitName: "", helpText: "Cluster members by state"), labels: [("state", "suspect")])
        peersDead = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peers", unitName: "", helpText: "Cluster members by state"), labels: [("state", "dead")])
        peersLeft = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peers", unitName: "", helpText: "Cluster members by state"), labels: [("state", "left")])
        clientsTimedOut = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "clients_timed_out_total", unitName: "", helpText: "WebSocket clients dropped for not answering a ping within the pong timeout"))
        handshakeTimeouts = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "handshake_timeouts_total", unitName: "", helpText: "Connections closed because their first HTTP request head was not complete within the handshake timeout"))
        tokensRefused = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "tokens_refused_total", unitName: "", helpText: "Connections refused for a missing, malformed, wrongly signed or expired connection token (401 or -32005)"))
        presenceEventsOut = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "presence_events_out_total", unitName: "", helpText: "Presence join and leave pushes written to local clients"))
        historyMessages = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "history_messages", unitName: "", helpText: "History messages kept on this node (owner and backup copies)"))
        historyBytes = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "history_bytes", unitName: "", helpText: "Bytes of the data of the history messages kept on this node"))
        recoveriesTrue = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "recoveries_total", unitName: "", helpText: "subscribe with recover on this node, by outcome"), labels: [("recovered", "true")])
        recoveriesFalse = registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: "recoveries_total", unitName: "", helpText: "subscribe with recover on this node, by outcome"), labels: [("recovered", "false")])
        fanOutWindow = registry.makeGauge(
            descriptor: .init(
                namespace: "rocketws", metricName: "fanout_window", unitName: "seconds",
                helpText: "Longest current fan-out window (--flush-delay-us, stretched towards --max-flush-delay-us while the CPUs are saturated)"))
    }

    /// The Prometheus text exposition.
    public func render() -> [UInt8] {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return bytes
    }
}
