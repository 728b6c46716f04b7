import Foundation
import RocketWSTestKit
import NIOCore
import RocketWSClient
import Testing

/// The built `rocketws-node` binary in a subprocess: flags, environment, SIGTERM, slow consumers.
@Suite(.serialized) struct SingleNodeProcessTests {
    @Test func sigtermClosesClientsWith1001AndExitsZero() async throws {
        let node = try await NodeProcess.start(name: "term")
        defer { node.kill9() }
        let ws = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        try await ws.subscribe("bye")
        let backend = MessagesSourceClient(host: "127.0.0.1", port: node.msPort)
        #expect(try await backend.call(method: "emit", params: ["channel": "bye", "data": ["last": true]]) == ["emitted": 1, "nodes": 1])
        #expect(try await ws.nextMessage()?["last"] == true)
        let started = ContinuousClock.now
        node.signal(SIGTERM)
        #expect(await closeCode(of: ws) == 1001)
        let status = await node.waitForExit(timeout: .seconds(5))
        #expect(status == 0, "exit status \(String(describing: status)); log:\n\(node.log)")
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func environmentVariablesConfigureTheNode() async throws {
        let node = try await NodeProcess.start(name: "env", environment: ["ROCKETWS_API_KEY": "k1", "ROCKETWS_MAX_MESSAGE_BYTES": "2048"])
        defer { node.kill9() }
        let anonymous = MessagesSourceClient(host: "127.0.0.1", port: node.msPort)
        #expect(try await anonymous.postRaw(body: #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).status == 401)
        let keyed = MessagesSourceClient(host: "127.0.0.1", port: node.msPort, apiKey: "k1")
        #expect(try await keyed.call(method: "ping") == ["ping": "ok"])
        #expect(try await keyed.postRaw(body: String(repeating: " ", count: 3000)).status == 413)
        node.signal(SIGTERM)
        #expect(await node.waitForExit() == 0)
    }

    @Test func badFlagsExitNonZeroWithAMessage() async throws {
        let result = try await BinaryRunner.run(["--ws-conn", "nonsense"], executable: "rocketws-node", timeout: .seconds(20))
        #expect(result.status != 0)
        #expect(result.output.contains("--ws-conn"))
    }

    /// A subscriber that stops reading while 20,000 messages go out is closed alone; the node's memory stays
    /// bounded; a normal subscriber receives all 20,000 in order.
    @Test func slowConsumerIsClosedAloneAndMemoryStaysBounded() async throws {
        let node = try await NodeProcess.start(name: "slow", arguments: ["--max-queue-bytes", "8388608"])
        defer { node.kill9() }
        let slow = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        let normal = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        try await slow.subscribe("flood")
        try await normal.subscribe("flood")
        try await slow.channel.setOption(ChannelOptions.autoRead, value: false).get()
        let backend = MessagesSourceClient(host: "127.0.0.1", port: node.msPort)
        _ = try await backend.call(method: "ping")
        let rssBefore = try #require(node.residentKiB)

        let total = 20_000
        let batchSize = 20
        let padding = String(repeating: "p", count: 4000)
        let receiver = Task { () -> [Int] in
            var seqs: [Int] = []
            seqs.reserveCapacity(total)
            while seqs.count < total, let message = try await normal.nextMessage(timeout: .seconds(30)) {
                if let seq = message["seq"]?.intValue { seqs.append(seq) }
            }
            return seqs
        }
        var rssPeak = rssBefore
        for start in stride(from: 0, to: total, by: batchSize) {
            var body = "["
            for seq in start..<(start + batchSize) {
                if seq > start { body += "," }
                body += #"{"jsonrpc":"2.0","method":"emit","params":{"channel":"flood","data":{"seq":\#(seq),"pad":"\#(padding)"}}}"#
            }
            body += "]"
            let response = try await backend.postRaw(body: body)
            #expect(response.status == 204)
            if let rss = node.residentKiB { rssPeak = max(rssPeak, rss) }
        }
        let seqs = try await receiver.value
        #expect(seqs.count == total)
        #expect(seqs == Array(0..<total), "messages lost, duplicated or out of order")
        // 20,000 x 4 KiB = 80 MiB went out; a queue bounded at 8 MiB keeps the node far below that.
        let growthMiB = Double(rssPeak - rssBefore) / 1024
        #expect(growthMiB < 48, "node RSS grew by \(growthMiB) MiB")
        #expect(try await MetricsScrape.scrape(backend).value("rocketws_dropped_slow_clients_total") == 1)
        #expect(await eventually { (try? await backend.call(method: "cluster_status"))?["members"]?[0]?["connections"] == 1 })
        print("slow consumer: node RSS before \(rssBefore) KiB, peak \(rssPeak) KiB (+\(String(format: "%.1f", growthMiB)) MiB) for 80 MiB sent")
        try await normal.close()
    }
}
