import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import RocketWSClient

@testable import NodeServer

typealias JSON = JSONValue

/// A `Node` started inside the test process (no subprocess) on 127.0.0.1 with ephemeral ports, and clients for it.
/// Node processes of the built binary: RocketWSTestKit's `NodeProcess`.
final class InProcessNode: Sendable {
    let node: Node
    let ports: BoundPorts

    static func start(_ configure: (inout NodeConfiguration) -> Void = { _ in }) async throws -> InProcessNode {
        var config = NodeConfiguration()
        config.webSocketAddress = HostPort(host: "127.0.0.1", port: 0)
        config.messagesSource.host = "127.0.0.1"
        config.messagesSource.port = 0
        config.nodeName = "solo"
        config.clustered = false
        config.eventLoopThreads = 2
        configure(&config)
        var logger = Logger(label: "test.node")
        logger.logLevel = .warning
        let node = Node(configuration: config, logger: logger)
        let ports = try await node.start()
        return InProcessNode(node: node, ports: ports)
    }

    private init(node: Node, ports: BoundPorts) {
        self.node = node
        self.ports = ports
    }

    func backend(apiKey: String? = nil) -> MessagesSourceClient {
        MessagesSourceClient(host: "127.0.0.1", port: ports.messagesSource, apiKey: apiKey, requestTimeout: .seconds(20))
    }

    func client(headers: [(String, String)] = []) async throws -> WebSocketClient {
        try await WebSocketClient.connect(host: "127.0.0.1", port: ports.webSocket, headers: headers)
    }

    func stop() async {
        await node.stop()
    }
}
