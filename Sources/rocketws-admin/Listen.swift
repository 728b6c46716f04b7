import ArgumentParser
import RocketWSClient

extension RocketWSAdmin {
    /// A WebSocket client in the terminal: subscribes to channels and prints every pushed message.
    struct Listen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Subscribe to channels over WebSocket and print every message pushed to them.",
            discussion: "Runs until interrupted, the node closes the connection, or --count messages arrived."
        )

        @Argument(help: "Channels to subscribe to.")
        var channels: [String]

        @Option(name: .long, help: ArgumentHelp("WebSocket URL of any node.", valueName: "url"))
        var ws = "ws://127.0.0.1:58000/"

        @Option(name: .long, help: "Stop after this many messages (default: never).")
        var count: Int?

        func validate() throws {
            guard !channels.isEmpty else { throw ValidationError("give at least one channel") }
            if let count, count <= 0 { throw ValidationError("--count must be positive") }
        }

        func run() async throws {
            let client = try await reportingErrors(node: ws) { try await WebSocketClient.connect(url: ws) }
            for channel in channels {
                try await reportingErrors(node: ws) { try await client.subscribe(channel) }
            }
            Console.error("listening on \(channels.joined(separator: ", ")) at \(ws)")
            var received = 0
            for await event in client.events {
                switch event {
                case .text(let text):
                    print(text)
                    Console.flush()
                    received += 1
                    if let count, received >= count {
                        try? await client.close()
                        return
                    }
                case .binary:
                    continue
                case .close(let code, let reason):
                    Console.error("connection closed by the node (\(code.map { "\($0)" } ?? "no close frame")) \(reason)")
                    throw ExitCode(1)
                }
            }
        }
    }
}
