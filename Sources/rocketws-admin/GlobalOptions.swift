import ArgumentParser
import RocketWSClient
import RocketWSProtocol

/// Options every subcommand shares: which node, which key, how to print.
struct GlobalOptions: ParsableArguments {
    static let defaultNode = "http://127.0.0.1:59999"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "MessagesSource URL of any node (default: \(GlobalOptions.defaultNode), env: ROCKETWS_NODE).",
            valueName: "url"
        )
    )
    var node: String?

    @Option(
        name: .long,
        help: ArgumentHelp("API key sent as a Bearer token (env: ROCKETWS_API_KEY).", valueName: "key")
    )
    var apiKey: String?

    @Flag(name: .long, help: "Print the JSON-RPC result as JSON.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for each answer.", valueName: "seconds"))
    var timeout: Double = 10

    func validate() throws {
        guard self.timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    /// `--node`, else `ROCKETWS_NODE`, else the default.
    var nodeURL: String {
        self.node ?? Environment.value("ROCKETWS_NODE") ?? Self.defaultNode
    }

    /// `--api-key`, else `ROCKETWS_API_KEY`.
    var resolvedAPIKey: String? {
        self.apiKey ?? Environment.value("ROCKETWS_API_KEY")
    }

    func makeClient(url: String? = nil) throws(AdminError) -> MessagesSourceClient {
        let url = url ?? self.nodeURL
        do {
            return MessagesSourceClient(
                endpoint: try Endpoint(parsing: url, defaultScheme: "http"),
                apiKey: self.resolvedAPIKey,
                requestTimeout: .milliseconds(Int(self.timeout * 1000))
            )
        } catch {
            throw AdminError("\(error)")
        }
    }
}
