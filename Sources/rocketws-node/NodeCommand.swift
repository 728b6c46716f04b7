import ArgumentParser
import ClusterKit
import Logging
import NodeServer
import ServiceLifecycle

/// `rocketws-node`: flags (or their `ROCKETWS_*` environment variables) into a `NodeConfiguration`, then one
/// service group that stops gracefully on SIGTERM or SIGINT.
@main
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rocketws-node",
        abstract: "Runs one RocketWS cluster node.",
        discussion: "Every option also reads an environment variable: --ws-conn <-> ROCKETWS_WS_CONN, --join <-> ROCKETWS_JOIN, and so on."
    )

    @Option(name: .customLong("ws-conn"), help: "WebSocket listener HOST:PORT (path /).")
    var wsConn = "0.0.0.0:58000"

    @Option(name: .customLong("ms-conn"), help: "MessagesSource HTTP listener HOST:PORT.")
    var msConn = "0.0.0.0:59999"

    @Option(name: .customLong("peer-conn"), help: "HTTP/2 peer-mesh listener HOST:PORT.")
    var peerConn = "0.0.0.0:59998"

    @Option(name: .customLong("node-name"), help: "Unique node name (default: host name + peer port).")
    var nodeName: String?

    @Option(help: "HOST:PORT other nodes dial to reach this node's peer port (default: derived).")
    var advertise: String?

    @Option(help: "Comma-separated seeds HOST:PORT (DNS names allowed).")
    var join: String?

    @Option(name: .customLong("cluster-secret"), help: "Shared secret peers must prove.")
    var clusterSecret: String?

    @Option(name: .customLong("peer-tls-cert"), help: "PEM certificate chain: the peer port speaks HTTP/2 over TLS 1.3 (needs --peer-tls-key and --peer-tls-ca).")
    var peerTLSCert: String?

    @Option(name: .customLong("peer-tls-key"), help: "PEM private key of --peer-tls-cert.")
    var peerTLSKey: String?

    @Option(name: .customLong("peer-tls-ca"), help: "PEM CA bundle peers' certificates must be signed by (mutual TLS). SIGHUP reloads the three files.")
    var peerTLSCA: String?

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on the MessagesSource.")
    var apiKey: String?

    @Option(name: .customLong("max-message-bytes"), help: "Largest WebSocket message or HTTP body accepted.")
    var maxMessageBytes = 1_048_576

    @Option(name: .customLong("max-queue-bytes"), help: "Per-client send queue bound in bytes; a client over it is closed (1008).")
    var maxQueueBytes = 16 << 20

    @Option(name: .customLong("peer-queue-bytes"), help: "Bytes queued for one peer node before frames to it are dropped and counted.")
    var peerQueueBytes = 64 << 20

    @Option(name: .customLong("history-size"), help: "Channel messages kept per channel for recovery (emit and send_data); 0 turns history off.")
    var historySize = 0

    @Option(name: .customLong("history-ttl-s"), help: "Seconds a kept message stays recoverable.")
    var historyTTLSeconds = 300

    @Option(name: .customLong("max-channels"), help: "Most channels one WebSocket connection may subscribe to.")
    var maxChannels = 128

    @Option(name: .customLong("max-connections"), help: "Most WebSocket connections this node accepts.")
    var maxConnections = 100_000

    @Option(name: .customLong("allowed-origins"), help: "Comma-separated Origin values allowed to open a WebSocket (default: any).")
    var allowedOrigins: String?

    @Option(name: .customLong("max-requests-per-second"), help: "Requests one WebSocket connection may send per second.")
    var maxRequestsPerSecond = 200

    @Option(name: .customLong("private-channel-secret"), help: "Secret backends sign private-channel tokens with (private- channels are refused without it).")
    var privateChannelSecret: String?

    @Option(name: .customLong("token-secret"), help: "HMAC key (HS256, at least 32 bytes) of connection tokens: when set, every connection needs one (?token=JWT or a first \"connect\").")
    var tokenSecret: String?

    @Option(name: .customLong("flush-delay-us"), help: "Shortest time between two write rounds of pushed frames on one client loop while CPU is spare, in microseconds (0: a message leaves as soon as the loop gets to it and batches grow only with the load; longer: fewer writes per client at that much added latency).")
    var flushDelayMicroseconds = 0

    @Option(name: .customLong("max-flush-delay-us"), help: "Longest time between two write rounds, in microseconds, while a client loop is starved of CPU (its rounds start late): fewer, larger writes then let more messages through; equal to --flush-delay-us: never stretched.")
    var maxFlushDelayMicroseconds = 150000

    @Option(name: .customLong("fan-out-nice"), help: "Nice levels added to the client (fan-out) threads so answers and acknowledgements win a saturated CPU (0 = off).")
    var fanOutNice: Int32 = 10

    @Option(name: .customLong("ping-interval-s"), help: "Seconds a WebSocket client may send nothing before it gets a ping.")
    var pingIntervalSeconds = 25.0

    @Option(name: .customLong("pong-timeout-s"), help: "Seconds a pinged client has to send any frame before it is dropped.")
    var pongTimeoutSeconds = 10.0

    @Option(name: .customLong("handshake-timeout-s"), help: "Seconds a new connection (WebSocket or MessagesSource port) has to complete its first HTTP request head.")
    var handshakeTimeoutSeconds = 10.0

    @Option(name: .customLong("http-idle-timeout-s"), help: "Seconds a keep-alive MessagesSource connection may stay idle between requests.")
    var httpIdleTimeoutSeconds = 60.0
    @Option(name: .customLong("amqp-url"), help: "RabbitMQ message source amqp://USER:PASS@HOST:5672/VHOST (off when absent): consume a durable queue, each message one JSON-RPC request or batch, acknowledged once answered.")
    var amqpURL: String?

    @Option(name: .customLong("amqp-queue"), help: "Queue the RabbitMQ source declares (durable) and consumes; every node of the cluster shares it.")
    var amqpQueue = "rocketws"

    @Option(name: .customLong("amqp-prefetch"), help: "Unacknowledged RabbitMQ messages the broker may hand this node at once (basic.qos).")
    var amqpPrefetch = 256

    @Option(name: .customLong("amqp-message-ttl-s"), help: "x-message-ttl of the declared queue in seconds (0: none); must match an existing queue's.")
    var amqpMessageTTLSeconds = 3600

    @Option(name: .customLong("amqp-heartbeat-s"), help: "AMQP heartbeat interval asked of the broker in seconds; a broker silent for two intervals is dead (0: no heartbeats).")
    var amqpHeartbeatSeconds = 30

    @Option(help: "Event loop threads (default: number of cores).")
    var threads: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    /// Parses the command line merged with `ROCKETWS_*` variables, then runs.
    static func main() async {
        do {
            var command = try parseAsRoot(Environment.merged(Array(CommandLine.arguments.dropFirst()), options: Environment.nodeOptions))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    func validate() throws {
        for (flag, value) in [("--ws-conn", wsConn), ("--ms-conn", msConn), ("--peer-conn", peerConn)] where HostPort(value) == nil {
            throw ValidationError("\(flag) '\(value)' is not HOST:PORT, :PORT or [IPv6]:PORT")
        }
        if let advertise, HostPort(advertise) == nil {
            throw ValidationError("--advertise '\(advertise)' is not HOST:PORT")
        }
        let tlsFlags = [peerTLSCert, peerTLSKey, peerTLSCA].map { ($0 ?? "").isEmpty }
        if tlsFlags.contains(false), tlsFlags.contains(true) {
            throw ValidationError("--peer-tls-cert, --peer-tls-key and --peer-tls-ca go together: give all three or none")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        if let tokenSecret, !tokenSecret.isEmpty, tokenSecret.utf8.count < ConnectionTokenVerifier.minimumSecretBytes {
            throw ValidationError("--token-secret must be at least \(ConnectionTokenVerifier.minimumSecretBytes) bytes (HS256 needs a key as long as its output)")
        }
        guard maxMessageBytes > 0 else { throw ValidationError("--max-message-bytes must be positive") }
        guard maxQueueBytes >= 1024 else { throw ValidationError("--max-queue-bytes must be at least 1024") }
        guard peerQueueBytes >= 65_536 else { throw ValidationError("--peer-queue-bytes must be at least 65536") }
        guard maxChannels > 0, maxConnections > 0, maxRequestsPerSecond > 0 else { throw ValidationError("limits must be positive") }
        guard (0...1_000_000).contains(historySize) else { throw ValidationError("--history-size must be between 0 (off) and 1000000") }
        guard (1...86_400 * 7).contains(historyTTLSeconds) else { throw ValidationError("--history-ttl-s must be a number of seconds above 0 (at most 604800)") }
        for (flag, value) in [
            ("--ping-interval-s", pingIntervalSeconds), ("--pong-timeout-s", pongTimeoutSeconds),
            ("--handshake-timeout-s", handshakeTimeoutSeconds), ("--http-idle-timeout-s", httpIdleTimeoutSeconds),
        ] where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(flag) must be a number of seconds above 0 (at most 86400)")
        }
        if let amqpURL, !amqpURL.isEmpty {
            do {
                _ = try AMQPSourceSettings(url: amqpURL)
            } catch {
                throw ValidationError("--amqp-url: \(error)")
            }
        }
        guard !amqpQueue.isEmpty, amqpQueue.utf8.count <= 255 else { throw ValidationError("--amqp-queue must be 1 to 255 bytes") }
        guard (1...65535).contains(amqpPrefetch) else { throw ValidationError("--amqp-prefetch must be 1 to 65535") }
        guard (0...2_000_000).contains(amqpMessageTTLSeconds) else { throw ValidationError("--amqp-message-ttl-s must be 0 to 2000000") }
        guard (0...65535).contains(amqpHeartbeatSeconds) else { throw ValidationError("--amqp-heartbeat-s must be 0 to 65535") }
    }

    func makeConfiguration() -> NodeConfiguration {
        var config = NodeConfiguration()
        config.webSocketAddress = HostPort(wsConn)!
        let ms = HostPort(msConn)!
        config.messagesSource.host = ms.host
        config.messagesSource.port = ms.port
        config.messagesSource.maxBodyBytes = maxMessageBytes
        config.messagesSource.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        config.peerAddress = HostPort(peerConn)!
        config.nodeName = nodeName.flatMap { $0.isEmpty ? nil : $0 }
        config.advertise = advertise.flatMap { $0.isEmpty ? nil : $0 }
        config.join = (join ?? "").split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
        config.clusterSecret = clusterSecret.flatMap { $0.isEmpty ? nil : $0 }
        config.peerQueueBytes = peerQueueBytes
        config.history.size = historySize
        config.history.ttlSeconds = historyTTLSeconds
        if let cert = peerTLSCert, let key = peerTLSKey, let ca = peerTLSCA, !cert.isEmpty {
            config.peerTLS = PeerTLSFiles(certificatePath: cert, keyPath: key, caPath: ca)
        }
        config.webSocket.maxMessageBytes = maxMessageBytes
        config.webSocket.maxQueueBytes = maxQueueBytes
        config.webSocket.maxChannelsPerConnection = maxChannels
        config.webSocket.maxConnections = maxConnections
        config.webSocket.allowedOrigins = (allowedOrigins ?? "").split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
        config.webSocket.maxRequestsPerSecond = maxRequestsPerSecond
        config.webSocket.flushDelay = .microseconds(Int64(max(0, flushDelayMicroseconds)))
        config.webSocket.maxFlushDelay = .microseconds(Int64(max(0, maxFlushDelayMicroseconds)))
        config.fanOutNice = max(0, min(19, fanOutNice))
        config.webSocket.privateChannelSecret = privateChannelSecret.flatMap { $0.isEmpty ? nil : $0 }
        config.webSocket.tokenSecret = tokenSecret.flatMap { $0.isEmpty ? nil : $0 }
        if let threads { config.eventLoopThreads = max(1, threads) }
        config.webSocket.liveness = LivenessSettings(pingInterval: .nanoseconds(Self.nanoseconds(pingIntervalSeconds)), pongTimeout: .nanoseconds(Self.nanoseconds(pongTimeoutSeconds)))
        config.webSocket.handshakeTimeout = .nanoseconds(Self.nanoseconds(handshakeTimeoutSeconds))
        config.messagesSource.handshakeTimeout = .nanoseconds(Self.nanoseconds(handshakeTimeoutSeconds))
        config.messagesSource.idleTimeout = .nanoseconds(Self.nanoseconds(httpIdleTimeoutSeconds))
        if let amqpURL, !amqpURL.isEmpty, var amqp = try? AMQPSourceSettings(url: amqpURL) {
            amqp.queue = amqpQueue
            amqp.prefetch = amqpPrefetch
            amqp.messageTTLSeconds = amqpMessageTTLSeconds
            amqp.heartbeatSeconds = amqpHeartbeatSeconds
            config.amqp = amqp
        }
        return config
    }

    private static func nanoseconds(_ seconds: Double) -> Int64 {
        Int64(seconds * 1e9)
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "rocketws.node")
        FileLimit.raiseToHardLimit(logger: logger)
        let node = Node(configuration: makeConfiguration(), logger: logger, gracefulShutdownSignals: [.sigterm, .sigint])
        let reload = PeerTLSReloadSignal(node: node)
        defer { reload.cancel() }
        try await node.run()
    }
}
