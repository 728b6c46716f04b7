import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// The RabbitMQ message source against a real broker (Debian's rabbitmq-server on loopback ports, its own data
/// folder) and real node processes: messages published with pika reach subscribers cluster-wide, each once
/// while no node dies, at least once when the consuming node is killed, and across a broker restart.
@Suite(.serialized, .enabled(if: RabbitMQBroker.available, "rabbitmq-server is not installed: run `make setup` (apt-get install rabbitmq-server)"))
struct AMQPSourceTests {
    static let nodeFlags = ["--amqp-prefetch", "64", "--amqp-heartbeat-s", "2"]

    @Test func queueReachesEveryNodeOnceAndSurvivesAKilledConsumer() async throws {
        let broker = try await RabbitMQBroker.start()
        let queue = "rocketws-test"
        // The queue exists before the nodes (declared by the publisher, as the original's arguments): reused.
        try await broker.publishEmits(queue: queue, channel: "warmup", count: 0)
        let cluster = try await TestCluster.start(count: 3, arguments: ["--amqp-url", broker.url, "--amqp-queue", queue] + Self.nodeFlags)
        defer { cluster.killAll() }
        for i in 1...3 { #expect(await waitForMetric("rocketws_amqp_connected", 1, node: cluster.node(i)), "n\(i) never consumed:\n\(cluster.node(i).log)") }

        // 1. A message published to the queue reaches the subscribers of every node, each message once.
        let subscribers = [try await cluster.client(1), try await cluster.client(2), try await cluster.client(3)]
        for client in subscribers { try await client.subscribe("ticker") }
        let count = 600
        try await broker.publishEmits(queue: queue, channel: "ticker", count: count / 2)
        try await broker.publishEmits(queue: queue, channel: "ticker", count: count / 4, start: count / 2, batch: 5)  // batches too
        try await broker.publishEmits(queue: queue, channel: "ticker", count: count / 4, start: 3 * count / 4)
        for (i, client) in subscribers.enumerated() {
            let seqs = try await collectSeqs(client, until: count)
            #expect(seqs.count == count, "n\(i + 1)'s subscriber got \(seqs.count) of \(count)")
            #expect(Set(seqs) == Set(0..<count), "n\(i + 1)'s subscriber missed \(Set(0..<count).subtracting(seqs).count) messages")
            #expect(try await collectSeqs(client, until: 1, timeout: .milliseconds(300)).isEmpty, "a message came twice")
        }
        var taken = 0
        for i in 1...3 {
            let n = await metricValue("rocketws_amqp_messages_total", node: cluster.node(i)) ?? 0
            #expect(n > 0, "n\(i) consumed nothing: the broker should spread the queue over all consumers")
            taken += Int(n)
        }
        #expect(taken == count / 2 + count / 4 / 5 + count / 4, "each message is taken from the queue by one node once")

        // 2. A body that is not JSON-RPC is counted and acknowledged (never redelivered), and the node serves on.
        try await broker.publishRaw(queue: queue, body: "this is not json")
        try await broker.publishRaw(queue: queue, body: #"{"jsonrpc":"2.0","method":"total_subscribers"}"#)
        #expect(await eventually(timeout: .seconds(10)) {
            var invalid = 0.0, other = 0.0
            for i in 1...3 {
                invalid += await metricValue("rocketws_amqp_invalid_total", node: cluster.node(i)) ?? 0
                other += await metricValue("rocketws_amqp_other_methods_total", node: cluster.node(i)) ?? 0
            }
            return invalid == 1 && other == 1
        })
        #expect(try await broker.ready(queue: queue) == 0)
        try await broker.publishEmits(queue: queue, channel: "ticker", count: 1, start: 9999)
        for client in subscribers { #expect(try await collectSeqs(client, until: 1) == [9999]) }

        // 3. Kill -9 a consuming node mid-stream: what it held unacknowledged is redelivered to the others and
        // reaches the subscribers (a message it had forwarded but not acknowledged may arrive twice).
        for client in subscribers.dropFirst() { try await client.subscribe("stream") }
        let streamed = 1500
        let publishing = Task { try await broker.publishEmits(queue: queue, channel: "stream", count: streamed) }
        let early = try await collectSeqs(subscribers[1], until: streamed / 5)
        cluster.node(1).signal(SIGSTOP)  // holds its deliveries without acknowledging while the stream goes on
        try await Task.sleep(for: .milliseconds(300))
        cluster.node(1).kill9()
        try await publishing.value
        let seen2 = early + (try await collectSeqs(subscribers[1], until: streamed - early.count, distinct: Set(early)))
        let seen3 = try await collectSeqs(subscribers[2], until: streamed, distinct: [])
        for (name, seen) in [("n2", seen2), ("n3", seen3)] {
            let streamSeqs = seen.filter { $0 < streamed }
            let missing = Set(0..<streamed).subtracting(streamSeqs)
            #expect(missing.isEmpty, "\(name)'s subscriber missed \(missing.count) messages, e.g. \(missing.sorted().prefix(5))")
            print("kill -9: \(name)'s subscriber got \(streamSeqs.count) messages for \(streamed) published (\(streamSeqs.count - Set(streamSeqs).count) duplicates)")
        }
        var redelivered = 0.0
        for i in 2...3 { redelivered += await metricValue("rocketws_amqp_redelivered_total", node: cluster.node(i)) ?? 0 }
        #expect(redelivered > 0, "the killed node held no unacknowledged message")
        #expect(try await broker.ready(queue: queue) == 0)
    }

    @Test func nodesReconnectAfterBrokerRestartAndADeadBroker() async throws {
        let broker = try await RabbitMQBroker.start()
        let queue = "rocketws-restart"
        let cluster = try await TestCluster.start(count: 2, arguments: ["--amqp-url", broker.url, "--amqp-queue", queue] + Self.nodeFlags)
        defer { cluster.killAll() }
        for i in 1...2 { #expect(await waitForMetric("rocketws_amqp_connected", 1, node: cluster.node(i))) }
        let subscribers = [try await cluster.client(1), try await cluster.client(2)]
        for client in subscribers { try await client.subscribe("news") }
        try await broker.publishEmits(queue: queue, channel: "news", count: 50)
        for client in subscribers { #expect(Set(try await collectSeqs(client, until: 50)) == Set(0..<50)) }

        // Restart: the nodes see the broker go (connected 0), reconnect by themselves and carry on; the durable
        // queue and its persistent messages survive the restart.
        await broker.stop()
        for i in 1...2 { #expect(await waitForMetric("rocketws_amqp_connected", 0, node: cluster.node(i))) }
        try await broker.start()
        for i in 1...2 {
            #expect(await waitForMetric("rocketws_amqp_connected", 1, node: cluster.node(i), timeout: .seconds(20)), "n\(i) did not reconnect:\n\(cluster.node(i).log.suffix(2000))")
            #expect((await metricValue("rocketws_amqp_reconnects_total", node: cluster.node(i)) ?? 0) >= 1)
        }
        try await broker.publishEmits(queue: queue, channel: "news", count: 50, start: 50)
        for client in subscribers { #expect(Set(try await collectSeqs(client, until: 50)) == Set(50..<100)) }

        // A broker that stops answering (frozen, TCP still open) is found dead by the missed heartbeats (2 s
        // interval: within about 4-6 s), and consumed again once it answers.
        try broker.freeze(true)
        for i in 1...2 {
            #expect(await waitForMetric("rocketws_amqp_connected", 0, node: cluster.node(i), timeout: .seconds(12)), "n\(i) did not notice the silent broker")
        }
        try broker.freeze(false)
        for i in 1...2 { #expect(await waitForMetric("rocketws_amqp_connected", 1, node: cluster.node(i), timeout: .seconds(20))) }
        #expect(cluster.node(1).log.contains("no heartbeat from the broker"))
        try await broker.publishEmits(queue: queue, channel: "news", count: 20, start: 100)
        for client in subscribers { #expect(Set(try await collectSeqs(client, until: 20)) == Set(100..<120)) }
    }

    // MARK: Helpers

    /// The `seq` of pushed messages until `until` of them (or `until` new distinct ones beside `distinct`) came,
    /// or `timeout` passed.
    private func collectSeqs(_ client: WebSocketClient, until: Int, distinct: Set<Int>? = nil, timeout: Duration = .seconds(20)) async throws -> [Int] {
        var seqs: [Int] = []
        var seen = distinct ?? []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reached = distinct == nil ? seqs.count >= until : seen.count - (distinct?.count ?? 0) >= until
            if reached { break }
            guard let message = try await client.nextMessage(timeout: deadline - ContinuousClock.now) else { break }
            guard let seq = message["seq"]?.intValue else { continue }
            seqs.append(seq)
            seen.insert(seq)
        }
        return seqs
    }

    private func metricValue(_ name: String, node: NodeProcess) async -> Double? {
        let backend = MessagesSourceClient(host: "127.0.0.1", port: node.msPort, requestTimeout: .seconds(5))
        return try? await MetricsScrape.scrape(backend).value(name)
    }

    private func waitForMetric(_ name: String, _ value: Double, node: NodeProcess, timeout: Duration = .seconds(15)) async -> Bool {
        await eventually(timeout: timeout) { await metricValue(name, node: node) == value }
    }
}
