import ArgumentParser
import RocketWSClient

extension RocketWSAdmin {
    struct Emit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Emit a message to every subscriber of a channel, cluster-wide.",
            discussion: "Prints the result, for example {\"emitted\":3,\"nodes\":2}."
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Channel name.")
        var channel: String

        @Argument(help: ArgumentHelp("The message: a JSON object.", valueName: "json"))
        var data: String

        func validate() throws {
            guard !self.channel.isEmpty else { throw ValidationError("the channel name must not be empty") }
            _ = try parseJSONArgument(self.data, what: "the message")
        }

        func run() async throws {
            let data = try parseJSONArgument(self.data, what: "the message")
            let client = try self.global.makeClient()
            let result = try await reportingErrors(node: self.global.nodeURL) {
                try await client.call(method: "emit", params: ["channel": .string(self.channel), "data": data])
            }
            print(result.serialized())
        }
    }
}
