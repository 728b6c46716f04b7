import Prometheus

/// The RabbitMQ source's metrics, in the node's registry (present only when the source is on).
final class AMQPSourceMetrics: Sendable {
    let messages: Counter
    let invalid: Counter
    let otherMethods: Counter
    let redelivered: Counter
    let requeued: Counter
    let reconnects: Counter
    let connected: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: .init(namespace: "rocketws", metricName: name, unitName: "", helpText: help))
        }
        messages = counter("amqp_messages_total", "Messages taken from the RabbitMQ queue")
        invalid = counter("amqp_invalid_total", "Queued bodies or requests that were not valid JSON-RPC (or too large), acknowledged and dropped")
        otherMethods = counter("amqp_other_methods_total", "Queued requests of methods other than emit and notify_all (run, answered nowhere)")
        redelivered = counter("amqp_redelivered_total", "Messages the broker delivered again (an earlier consumer died before acknowledging)")
        requeued = counter("amqp_requeued_total", "Messages given back to the queue because handling them failed")
        reconnects = counter("amqp_reconnects_total", "Connection attempts to the broker after the first")
        connected = registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "amqp_connected", unitName: "", helpText: "1 while this node consumes the RabbitMQ queue"))
        connected.set(0.0)
    }
}
