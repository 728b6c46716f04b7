import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// The built `rocketws-admin` binary: exit codes, one-line errors, the shell against real nodes.
@Suite struct AdminBinaryTests {
    @Test func unreachableNodeIsOneLineExitOne() async throws {
        let port = freePort()
        for command in [["ping"], ["status"], ["channels"], ["emit", "chat", #"{"a":1}"#], ["notify-all", "{}"]] {
            let result = try await BinaryRunner.run(command + ["--node", "http://127.0.0.1:\(port)"])
            #expect(result.status == 1, "\(command)")
            #expect(result.stderrLines.count == 1, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("unreachable"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func unreachableNodeFromEnvironment() async throws {
        let port = freePort()
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

    @Test func scriptedShell() async throws {
        try await NodeProcess.with(name: "shell") { node in
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
            #expect(result.stdout.contains("connect <url>"))
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains(#"{"emitted":1,"nodes":1}"#), "\(lines)")
            #expect(lines.contains(#"{"nodes":{"shell":1},"total":1}"#), "\(lines)")
            #expect(lines.contains(#"["chat"]"#), "\(lines)")
            #expect(lines.contains(#"{"nodes":1,"notified":1}"#), "\(lines)")
            let first = try #require(try await ws.nextMessage(timeout: .seconds(20)))
            #expect(first["a"] == 1)
            #expect(first["__type"] == "message")
            #expect(first["__channel"] == "chat")
            let now = Int(Date().timeIntervalSince1970)
            #expect(abs((first["__ts"]?.intValue ?? 0) - now) < 300, "__ts \(first)")
            let second = try #require(try await ws.nextMessage(timeout: .seconds(20)))
            #expect(second["b"] == 2)
            #expect(second["__type"] == "broadcast")
            #expect(second["__channel"] == nil)
            // Nothing after `exit` was sent: the next message is one emitted once the shell is gone.
            let backend = node.messagesSource()
            _ = try await backend.call(method: "emit", params: ["channel": "chat", "data": ["after": true]])
            let next = try #require(try await ws.nextMessage(timeout: .seconds(20)))
            #expect(next["after"] == true, "\(next)")
            try await backend.close()

            let failing = try await BinaryRunner.run(["shell", "--node", node.msURL], stdin: "emit chat {bad\nbogus\n")
            #expect(failing.status == 1)
            #expect(failing.stderrLines.count == 2, "\(failing.stderr)")
            try await ws.close()
        }
    }

    /// The original `manage.py shell` driven through stdin: commands typed alone ask for what they need, with
    /// the original's questions and defaults, and invalid JSON is asked again.
    @Test func shellAsksAsTheOriginalDid() async throws {
        try await NodeProcess.with(name: "prompts") { node in
            let ws = try await WebSocketClient.connect(url: node.wsURL)
            try await ws.subscribe("chat")
            let original = try await BinaryRunner.run(["shell", "--node", node.msURL], stdin: "emit\nchat\n{\"a\": 1}\nexit\n")
            #expect(original.status == 0, "\(original.stderr)")
            let lines = original.stdout.split(separator: "\n").map(String.init)
            #expect(lines == ["Enter a channel, for example `chat`: ", #"Enter json data [default: {"message": "test"}]: "#, #"{"emitted":1,"nodes":1}"#], "\(lines)")
            #expect(try await ws.nextMessage(timeout: .seconds(20))?["a"] == 1)

            // Invalid JSON is asked again; an empty answer takes the default; get_subscribers defaults to all.
            let script = "emit\n\nchat\n{bad\n\nnotify_all\n\nget_subscribers\n\nget_subscribers\nchat\nget_subscribers chat\n"
            let asked = try await BinaryRunner.run(["shell", "--node", node.msURL], stdin: script)
            #expect(asked.status == 0, "\(asked.stderr)")
            let answers = asked.stdout.split(separator: "\n").map(String.init)
            #expect(
                answers == [
                    "Enter a channel, for example `chat`: ", "Enter a channel, for example `chat`: ",
                    #"Enter json data [default: {"message": "test"}]: "#, "Invalid value: {bad",
                    #"Enter json data [default: {"message": "test"}]: "#, #"{"emitted":1,"nodes":1}"#,
                    #"Enter json data, to notify all subscribers [default: {"message": "test"}]: "#, #"{"nodes":1,"notified":1}"#,
                    "Enter a channel to get subscribers [default: all]: ", #"{"nodes":{"prompts":1},"total":1}"#,
                    "Enter a channel to get subscribers [default: all]: ", #"{"nodes":{"prompts":1},"total":1}"#,
                    #"{"nodes":{"prompts":1},"total":1}"#,
                ], "\(answers)")
            let emitted = try #require(try await ws.nextMessage(timeout: .seconds(20)))
            #expect(emitted["message"] == "test" && emitted["__type"] == "message", "\(emitted)")
            let notified = try #require(try await ws.nextMessage(timeout: .seconds(20)))
            #expect(notified["message"] == "test" && notified["__type"] == "broadcast", "\(notified)")

            // The end of input in the middle of a question ends the shell quietly.
            let cut = try await BinaryRunner.run(["shell", "--node", node.msURL], stdin: "emit\nchat\n")
            #expect(cut.status == 0, "\(cut.stderr)")
            try await ws.close()
        }
    }

    @Test func shellConnectSwitchesNode() async throws {
        // Two separate single-node clusters: what `available_channels` lists shows which node answers.
        try await NodeProcess.with(name: "shell-first") { first in
            try await NodeProcess.with(name: "shell-second") { second in
                let ws = try await WebSocketClient.connect(url: second.wsURL)
                try await ws.subscribe("room")
                let script = "available_channels\nconnect \(second.msURL)\navailable_channels\nemit room {\"x\":1}\n"
                let result = try await BinaryRunner.run(["shell", "--node", first.msURL], stdin: script)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(
                    result.stdout.split(separator: "\n") == [
                        "[]", "connected to \(second.msURL)", #"["room"]"#, #"{"emitted":1,"nodes":1}"#,
                    ]
                )
                #expect(try await ws.nextMessage(timeout: .seconds(20))?["x"] == 1)
                try await ws.close()
            }
        }
    }

    @Test func benchUnreachableIsOneLine() async throws {
        let port = freePort()
        let result = try await BinaryRunner.run([
            "bench", "--ws", "ws://127.0.0.1:\(port)/", "--node", "http://127.0.0.1:\(port)", "--subscribers", "3",
        ])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
    }
}
