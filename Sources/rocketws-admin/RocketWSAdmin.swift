import ArgumentParser

/// `rocketws-admin`: operate a RocketWS cluster through any node's MessagesSource port.
@main
struct RocketWSAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rocketws-admin",
        abstract: "Operate a RocketWS cluster through any node's MessagesSource port.",
        discussion: """
            Every command talks JSON-RPC to one node (--node, env ROCKETWS_NODE); the node answers \
            for the whole cluster. Errors print one line on stderr and exit with status 1.
            """,
        subcommands: [
            Status.self,
            Channels.self,
            Emit.self,
            NotifyAll.self,
            Ping.self,
            Shell.self,
            Listen.self,
            BenchCommand.self,
        ]
    )
}
