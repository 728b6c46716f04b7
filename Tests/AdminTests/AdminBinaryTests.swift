import Foundation
import RocketWSClient
import Testing

/// The built `rocketws-admin` binary: exit codes, one-line errors, output against the fake node.
@Suite struct AdminBinaryTests {
    @Test func unreachableNodeIsOneLineExitOne() async throws {
        let port = try await FreePort.find()
        for command in [["ping"], ["status"], ["channels"], ["emit", "chat", #"{"a":1}"#], ["notify-all", "{}"]] {
            let result = try await BinaryRunner.run(command + ["--node", "http://127.0.0.1:\(port)"])
            #expect(result.status == 1, "\(command)")
            #expect(result.stderrLines.count == 1, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("unreachable"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func unreachableNodeFromEnvironment() async throws {
        let port = try await FreePort.find()
        let result = try await BinaryRunner.run(["ping"], environment: ["ROCKETWS_NODE": "http://127.0.0.1:\(port)"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:\(port)"))
    }

    @Test func badJSONArgumentIsOneLineExitOne() async throws {
        for command in [["emit", "chat", "{not json"], ["notify-all", "[1,"]] {
            let result = try await BinaryRunner.run(command)
            #expect(result.status == 1)
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("not valid JSON"))
        }
    }

    @Test func emitStatusChannelsAgainstFakeNode() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        try await ws.subscribe("chat")

        let emit = try await BinaryRunner.run(["emit", "chat", #"{"text":"hello"}"#, "--node", node.msURL])
        #expect(emit.status == 0, "\(emit.stderr)")
        #expect(try JSONValue(parsing: emit.stdout) == ["emitted": 1, "nodes": 1])
        let pushed = try #require(try await ws.nextMessage(timeout: .seconds(10)))
        #expect(pushed["text"] == "hello")

        let status = try await BinaryRunner.run(["status", "--node", node.msURL])
        #expect(status.status == 0)
        #expect(status.stdout.contains("MEMBERS"))
        #expect(status.stdout.contains("SUBSCRIPTIONS"))
        #expect(status.stdout.contains("chat"))

        let json = try await BinaryRunner.run(["status", "--json", "--node", node.msURL])
        let parsed = try JSONValue(parsing: json.stdout)
        #expect(parsed["node"] == "fake")
        #expect(parsed["channels"]?[0]?["channel"] == "chat")

        let channels = try await BinaryRunner.run(["channels", "--node", node.msURL])
        #expect(channels.stdout.contains("CHANNEL"))
        #expect(channels.stdout.contains("chat"))

        let notify = try await BinaryRunner.run(["notify-all", #"{"sys":1}"#, "--node", node.msURL])
        #expect(try JSONValue(parsing: notify.stdout)["notified"] == 1)
        let broadcast = try #require(try await ws.nextMessage(timeout: .seconds(10)))
        #expect(broadcast["__type"] == "broadcast")

        let rpcError = try await BinaryRunner.run(["emit", "chat", "[1]", "--node", node.msURL])
        #expect(rpcError.status == 1)
        #expect(rpcError.stderrLines.count == 1)
        #expect(rpcError.stderr.contains("-32602"))

        try await ws.close()
        await node.stop()
    }

    @Test func wrongAPIKeyIsOneLineExitOne() async throws {
        let node = try await FakeNode.start(apiKey: "right")
        let wrong = try await BinaryRunner.run(["ping", "--node", node.msURL, "--api-key", "wrong"])
        #expect(wrong.status == 1)
        #expect(wrong.stderrLines.count == 1)
        #expect(wrong.stderr.contains("401"))
        let right = try await BinaryRunner.run(
            ["ping", "--node", node.msURL],
            environment: ["ROCKETWS_API_KEY": "right"]
        )
        #expect(right.status == 0, "\(right.stderr)")
        await node.stop()
    }

    @Test func scriptedShell() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        try await ws.subscribe("chat")
        let script = """
            help
            emit chat {"a": 1}
            total_subscribers chat
            available_channels
            notify_all {"b": 2}
            exit
            emit chat {"never": true}
            """
        let result = try await BinaryRunner.run(["shell", "--node", node.msURL], stdin: script)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"{"emitted":1,"nodes":1}"#))
        #expect(lines.contains(#"{"nodes":{"fake":1},"total":1}"#))
        #expect(lines.contains(#"["chat"]"#))
        #expect(lines.contains(#"{"nodes":1,"notified":1}"#))
        #expect(try await ws.nextMessage(timeout: .seconds(10))?["a"] == 1)
        #expect(try await ws.nextMessage(timeout: .seconds(10))?["b"] == 2)
        #expect(try await ws.nextMessage(timeout: .milliseconds(200)) == nil)

        let failing = try await BinaryRunner.run(["shell", "--node", node.msURL], stdin: "emit chat {bad\nbogus\n")
        #expect(failing.status == 1)
        #expect(failing.stderrLines.count == 2)
        try await ws.close()
        await node.stop()
    }

    @Test func shellConnectSwitchesNode() async throws {
        let first = try await FakeNode.start()
        let second = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: second.wsURL)
        try await ws.subscribe("room")
        let script = "available_channels\nconnect \(second.msURL)\navailable_channels\n"
        let result = try await BinaryRunner.run(["shell", "--node", first.msURL], stdin: script)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n") == ["[]", "connected to \(second.msURL)", #"["room"]"#])
        try await ws.close()
        await first.stop()
        await second.stop()
    }

    @Test func benchJSONAgainstFakeNode() async throws {
        let node = try await FakeNode.start()
        let result = try await BinaryRunner.run(
            [
                "bench", "--node", node.msURL, "--ws", "\(node.wsURL),\(node.wsURL)", "--subscribers", "30",
                "--messages", "200", "--publishers", "2", "--json",
            ],
            timeout: .seconds(120)
        )
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONValue(parsing: result.stdout)
        #expect(report["lost"] == 0)
        #expect(report["duplicated"] == 0)
        #expect(report["delivered"] == 6000)
        #expect(report["p99_ms"]?.doubleValue != nil)
        #expect(report["deliveries_per_second"]?.doubleValue != nil)
        #expect(report["emits_per_second"]?.doubleValue != nil)
        #expect(report["max_ms"]?.doubleValue != nil)

        let table = try await BinaryRunner.run(
            ["bench", "--node", node.msURL, "--ws", node.wsURL, "--subscribers", "5", "--messages", "50", "--notify"],
            timeout: .seconds(120)
        )
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("deliveries/s"))
        #expect(table.stdout.contains("latency p99 (ms)"))
        await node.stop()
    }

    @Test func benchUnreachableIsOneLine() async throws {
        let port = try await FreePort.find()
        let result = try await BinaryRunner.run([
            "bench", "--ws", "ws://127.0.0.1:\(port)/", "--node", "http://127.0.0.1:\(port)", "--subscribers", "3",
        ])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
    }
}
