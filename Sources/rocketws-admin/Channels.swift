import ArgumentParser
import RocketWSClient

extension RocketWSAdmin {
    struct Channels: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the channels that have subscribers anywhere in the cluster, with counts."
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let client = try self.global.makeClient()
            let status = try await reportingErrors(node: self.global.nodeURL) {
                try await client.call(method: "cluster_status")
            }
            let channels = status["channels"] ?? []
            print(self.global.json ? channels.serialized(pretty: true) : StatusView.channels(channels))
        }
    }
}
