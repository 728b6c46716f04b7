import ArgumentParser
import RocketWSClient

extension RocketWSAdmin {
    struct NotifyAll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "notify-all",
            abstract: "Broadcast a message to every connected WebSocket client of every node.",
            discussion: "Prints the result, for example {\"nodes\":2,\"notified\":5}."
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The message: a JSON object.", valueName: "json"))
        var data: String

        func validate() throws {
            _ = try parseJSONArgument(self.data, what: "the message")
        }

        func run() async throws {
            let data = try parseJSONArgument(self.data, what: "the message")
            let client = try self.global.makeClient()
            let result = try await reportingErrors(node: self.global.nodeURL) {
                try await client.call(method: "notify_all", params: ["data": data])
            }
            print(result.serialized())
        }
    }
}
