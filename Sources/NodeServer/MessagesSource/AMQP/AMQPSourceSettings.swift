import AMQP
import NIOCore

/// Settings of the RabbitMQ message source (`--amqp-url` and its companions); the source is off without them.
public struct AMQPSourceSettings: Sendable {
    /// The broker (`--amqp-url amqp://USER:PASS@HOST:5672/VHOST`).
    public var url: AMQPURL
    /// The durable queue every node declares and consumes (`--amqp-queue`).
    public var queue = "rocketws"
    /// Unacknowledged messages the broker may hand this node at once (`--amqp-prefetch`).
    public var prefetch = 256
    /// The queue's `x-message-ttl` in seconds, as the original declared it (`--amqp-message-ttl-s`; 0: none).
    public var messageTTLSeconds = 3600
    /// Heartbeat interval asked of the broker (`--amqp-heartbeat-s`; 0: none).
    public var heartbeatSeconds = 30

    /// Why the URL was refused (a one-line description).
    public struct InvalidURL: Error, CustomStringConvertible {
        public var description: String
    }

    public init(url: AMQPURL) {
        self.url = url
    }

    /// Parses `amqp://USER:PASS@HOST:PORT/VHOST`.
    public init(url text: String) throws(InvalidURL) {
        do {
            self.url = try AMQPURL(parsing: text)
        } catch {
            throw InvalidURL(description: error.description)
        }
    }

    /// The consumer's settings for a node named `nodeName` that accepts bodies up to `maxBodyBytes`.
    func consumerSettings(nodeName: String, maxBodyBytes: Int) -> AMQPConsumerSettings {
        var settings = AMQPConsumerSettings(url: url, queue: queue)
        settings.prefetch = UInt16(clamping: max(1, prefetch))
        settings.messageTTLMilliseconds = messageTTLSeconds > 0 ? Int64(messageTTLSeconds) * 1000 : nil
        settings.heartbeatSeconds = UInt16(clamping: max(0, heartbeatSeconds))
        settings.maxBodyBytes = maxBodyBytes
        settings.connectionName = "rocketws node \(nodeName)"
        settings.seed = UInt64(truncatingIfNeeded: nodeName.hashValue) ^ UInt64(NIODeadline.now().uptimeNanoseconds)
        return settings
    }
}
