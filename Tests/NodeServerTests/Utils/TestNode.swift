import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import RocketWSClient

@testable import NodeServer

typealias JSON = RocketWSClient.JSONValue

/// A node started in this process on 127.0.0.1 with ephemeral ports, and clients for it.
final class TestNode: Sendable {
    let node: Node
    let ports: BoundPorts

    static func start(_ configure: (inout NodeConfiguration) -> Void = { _ in }) async throws -> TestNode {
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
        return TestNode(node: node, ports: ports)
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

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The close code of the connection, waiting for it (pushed messages before it are skipped).
func closeCode(of client: WebSocketClient, timeout: Duration = .seconds(10)) async -> Int? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        guard let event = await client.nextEvent(timeout: deadline - ContinuousClock.now) else { return nil }
        if case .close(let code, _) = event { return code.map { Int(webSocketErrorCodeValue($0)) } }
    }
    return nil
}

private func webSocketErrorCodeValue(_ code: WebSocketErrorCode) -> UInt16 {
    var buffer = ByteBuffer()
    buffer.write(webSocketErrorCode: code)
    return buffer.readInteger(as: UInt16.self) ?? 0
}
