import RocketWSClient

/// The interpreter behind `rocketws-admin shell`: one line in, one answer out. It emulates a
/// backend the way the original `manage.py shell` did.
struct ShellSession {
    enum Outcome: Equatable {
        /// Print to stdout.
        case output(String)
        /// Print to stderr; the command failed.
        case failure(String)
        /// Leave the shell.
        case exit
        /// Blank line or comment: nothing to do.
        case nothing
    }

    static let help = """
        Commands:
          help                              this text
          emit <channel> <json>             emit a JSON object to a channel's subscribers
          notify_all <json>                 broadcast a JSON object to every connected client
          total_subscribers [channel]       subscriber count, cluster-wide (all channels without one)
          get_subscribers [channel]         the same, by the original's name
          available_channels                channels that have subscribers
          status                            cluster_status result
          ping                              check the node answers
          connect <url>                     switch to another node's MessagesSource URL
          exit                              leave (also quit, Ctrl-D)
        emit, notify_all and get_subscribers typed without their arguments ask for them, as the
        original shell did (json data defaults to {"message": "test"}, the channel to all).
        """

    private(set) var nodeURL: String
    private var client: MessagesSourceClient
    private let makeClient: (String) throws -> MessagesSourceClient
    private let prompter: ShellPrompter

    init(nodeURL: String, prompter: ShellPrompter, makeClient: @escaping (String) throws -> MessagesSourceClient) throws {
        self.nodeURL = nodeURL
        self.prompter = prompter
        self.makeClient = makeClient
        self.client = try makeClient(nodeURL)
    }

    /// Executes one input line.
    mutating func execute(_ line: String) async -> Outcome {
        let trimmed = line.trimmedForShell
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return .nothing }
        let (command, rest) = trimmed.splitFirstWord()
        do {
            switch command.lowercased() {
            case "help", "?":
                return .output(Self.help)
            case "exit", "quit":
                return .exit
            case "emit":
                var (channel, json) = rest.splitFirstWord()
                if channel.isEmpty {
                    guard let asked = prompter.text(ShellPrompter.Question.channel) else { return .exit }
                    channel = asked
                }
                let data: JSONValue
                if json.isEmpty {
                    guard let asked = prompter.json(ShellPrompter.Question.emitData, default: ShellPrompter.Question.defaultData) else { return .exit }
                    data = asked
                } else {
                    data = try parseJSONArgument(json, what: "the message")
                }
                return try await self.call("emit", ["channel": .string(channel), "data": data])
            case "notify_all", "notify-all":
                let data: JSONValue
                if rest.isEmpty {
                    guard let asked = prompter.json(ShellPrompter.Question.notifyData, default: ShellPrompter.Question.defaultData) else { return .exit }
                    data = asked
                } else {
                    data = try parseJSONArgument(rest, what: "the message")
                }
                return try await self.call("notify_all", ["data": data])
            case "total_subscribers":
                return try await self.call("total_subscribers", rest.isEmpty ? nil : ["channel": .string(rest)])
            case "get_subscribers":
                // The original's name; typed alone it asks, and `all` means every channel.
                var channel = rest
                if channel.isEmpty {
                    guard let asked = prompter.text(ShellPrompter.Question.subscribersChannel, default: ShellPrompter.Question.allChannels) else { return .exit }
                    channel = asked
                }
                return try await self.call("total_subscribers", channel == ShellPrompter.Question.allChannels ? nil : ["channel": .string(channel)])
            case "available_channels":
                return try await self.call("available_channels", nil)
            case "status", "cluster_status":
                return try await self.call("cluster_status", nil, pretty: true)
            case "ping":
                return try await self.call("ping", nil)
            case "connect":
                guard !rest.isEmpty else { return .failure("usage: connect <url>") }
                let client = try self.makeClient(rest)
                try? await self.client.close()
                self.client = client
                self.nodeURL = rest
                return .output("connected to \(rest)")
            default:
                return .failure("unknown command '\(command)'; type help")
            }
        } catch {
            return .failure(AdminError.from(error, node: self.nodeURL).description)
        }
    }

    private func call(_ method: String, _ params: JSONValue?, pretty: Bool = false) async throws -> Outcome {
        let result = try await self.client.call(method: method, params: params)
        return .output(result.serialized(pretty: pretty))
    }

    func close() async {
        try? await self.client.close()
    }
}

extension String {
    var trimmedForShell: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }

    /// The first whitespace-separated word and the trimmed rest.
    func splitFirstWord() -> (String, String) {
        guard let space = self.firstIndex(where: \.isWhitespace) else { return (self, "") }
        return (String(self[..<space]), String(self[space...]).trimmedForShell)
    }
}
