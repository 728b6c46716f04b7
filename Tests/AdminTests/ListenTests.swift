import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// `rocketws-admin listen` against the real node: it subscribes, prints what is pushed, stops after --count.
@Suite struct ListenTests {
    @Test func listenPrintsPushedMessages() async throws {
        try await NodeProcess.with(name: "listen") { node in
            let backend = node.messagesSource()
            let listener = Task {
                try await BinaryRunner.run(
                    ["listen", "alerts", "--ws", node.wsURL, "--count", "2"],
                    timeout: .seconds(60)
                )
            }
            // Wait until the listener's subscription is visible, then emit twice.
            let subscribed = try await eventually {
                try await backend.call(method: "total_subscribers", params: ["channel": "alerts"])["total"] == 1
            }
            #expect(subscribed)
            for n in 1...2 {
                _ = try await backend.call(method: "emit", params: ["channel": "alerts", "data": ["n": .int(n)]])
            }
            let result = try await listener.value
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(try lines.map { try JSONValue(parsing: String($0))["n"] } == [1, 2])
            try await backend.close()
        }
    }
}
