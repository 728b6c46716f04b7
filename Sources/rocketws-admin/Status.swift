import ArgumentParser
import RocketWSClient

extension RocketWSAdmin {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show cluster membership and per-channel subscriber counts.",
            discussion: "With --json, prints the cluster_status result."
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let client = try self.global.makeClient()
            let status = try await reportingErrors(node: self.global.nodeURL) {
                try await client.call(method: "cluster_status")
            }
            print(
                self.global.json
                    ? status.serialized(pretty: true) : StatusView.status(status, node: self.global.nodeURL)
            )
        }
    }
}
