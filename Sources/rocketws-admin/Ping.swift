import ArgumentParser
import RocketWSClient

extension RocketWSAdmin {
    struct Ping: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check that the node answers.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let client = try self.global.makeClient()
            let start = ContinuousClock.now
            let result = try await reportingErrors(node: self.global.nodeURL) {
                try await client.call(method: "ping")
            }
            let elapsed = ContinuousClock.now - start
            if self.global.json {
                print(result.serialized())
            } else {
                let millis = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
                print("pong from \(self.global.nodeURL) in \(Int(millis.rounded())) ms: \(result.serialized())")
            }
        }
    }
}
