import Foundation
import RocketWSClient
import RocketWSTestKit

/// Three `rocketws-node` processes joined the way deploy/compose/docker-compose.yml joins them (every node lists
/// every node's peer port as a seed, advertises its own, one cluster secret, one API key), with nginx in front
/// rendered from deploy/compose/nginx.conf.template.
final class NginxCluster: @unchecked Sendable {  // written once in `start`, read by the test task only
    static let secret = "nginx-test-cluster-secret"
    static let apiKey = "nginx-test-api-key"

    let nodes: [NodeProcess]
    let nginx: NginxProcess
    /// Backend client through nginx (port 59999 in compose).
    let backend: MessagesSourceClient

    private init(nodes: [NodeProcess], nginx: NginxProcess) {
        self.nodes = nodes
        self.nginx = nginx
        backend = MessagesSourceClient(host: "127.0.0.1", port: nginx.msPort, apiKey: Self.apiKey, requestTimeout: .seconds(10))
    }

    static func start(prefix: String) async throws -> NginxCluster {
        let peerPorts = freePorts(3)
        let seeds = peerPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",")
        var nodes: [NodeProcess] = []
        do {
            for (index, peerPort) in peerPorts.enumerated() {
                nodes.append(
                    try await NodeProcess.start(
                        name: "\(prefix)\(index + 1)",
                        arguments: ["--advertise", "127.0.0.1:\(peerPort)"],
                        environment: [
                            "ROCKETWS_JOIN": seeds, "ROCKETWS_CLUSTER_SECRET": secret, "ROCKETWS_API_KEY": apiKey,
                        ],
                        peerPort: peerPort
                    )
                )
            }
            let nginx = try await NginxProcess.start(
                wsUpstreams: nodes.map { "127.0.0.1:\($0.wsPort)" },
                msUpstreams: nodes.map { "127.0.0.1:\($0.msPort)" }
            )
            return NginxCluster(nodes: nodes, nginx: nginx)
        } catch {
            nodes.forEach { $0.kill9() }
            throw error
        }
    }

    /// Stops nginx (master PID) and every node still running (SIGKILL by PID).
    func stop() {
        nginx.stop()
        nodes.forEach { $0.kill9() }
    }

    /// Runs `body` with a backend client talking to `node` directly (not through nginx), then closes it.
    func asking<T: Sendable>(_ node: NodeProcess, _ body: (MessagesSourceClient) async throws -> T) async -> T? {
        let client = MessagesSourceClient(host: "127.0.0.1", port: node.msPort, apiKey: Self.apiKey, requestTimeout: .seconds(5))
        let result = try? await body(client)
        try? await client.close()
        return result
    }

    /// `rocketws_connections` of `node`, from its own /metrics.
    func connections(on node: NodeProcess) async -> Int? {
        await asking(node) { client in try await MetricsScrape.scrape(client).value("rocketws_connections").map { Int($0) } } ?? nil
    }

    /// Whether every running node reports `count` alive members (itself included) in `cluster_status`.
    func everyNodeSeesAlive(_ count: Int) async -> Bool {
        for node in nodes where node.process.isRunning {
            let alive = await asking(node) { client in
                (try await client.call(method: "cluster_status"))["members"]?.arrayValue?.filter { $0["state"] == "alive" }.count
            }
            if alive != count { return false }
        }
        return true
    }

    /// Names of the nodes holding a subscriber of `channel`: each running node is asked directly, so this works
    /// for a cluster of one (a node knows only itself) as for a real cluster (any node knows them all).
    func nodesHolding(_ channel: String) async -> Set<String> {
        var names: Set<String> = []
        for node in nodes where node.process.isRunning {
            let counts = await asking(node) { client in
                (try await client.call(method: "total_subscribers", params: ["channel": .string(channel)]))["nodes"]?.objectValue
            }
            names.formUnion(((counts ?? nil) ?? [:]).filter { ($0.value.intValue ?? 0) > 0 }.keys)
        }
        return names
    }

    /// A WebSocket client connected through nginx, retrying while nginx answers 502 or the connection fails
    /// (e.g. right after a node died). Returns the client and how many attempts it took.
    func connectThroughNginx(timeout: Duration = .seconds(10)) async throws -> (WebSocketClient, attempts: Int) {
        let deadline = ContinuousClock.now + timeout
        var attempts = 0
        while true {
            attempts += 1
            do {
                return (try await WebSocketClient.connect(host: "127.0.0.1", port: nginx.wsPort, connectTimeout: .seconds(5)), attempts)
            } catch {
                // Retry what a dead or starting upstream causes (connection failures, 502/503/504), not a refusal.
                let status = (error as? ClientError)?.status
                if ContinuousClock.now >= deadline || (status.map { !(502...504).contains($0) } ?? false) { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

/// The `seq` of each message on `channel` that `client` receives, until it has `count` of them or nothing arrives
/// for `quiet` (how many arrive depends on which nodes the emits reached).
func receivedSeqs(by client: WebSocketClient, channel: String, upTo count: Int, quiet: Duration = .seconds(1)) async -> [Int] {
    var seqs: [Int] = []
    while seqs.count < count {
        guard let message = try? await client.nextMessage(timeout: quiet) else { break }
        if message["__channel"]?.stringValue == channel, let seq = message["seq"]?.intValue { seqs.append(seq) }
    }
    return seqs
}
