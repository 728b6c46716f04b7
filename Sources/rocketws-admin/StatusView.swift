import RocketWSClient

/// Text renderings of `cluster_status` results.
enum StatusView {
    static func members(_ status: JSONValue) -> String {
        let rows = (status["members"]?.arrayValue ?? []).map { member in
            [
                member["name"].cell, member["address"].cell, member["state"].cell, member["incarnation"].cell,
                member["connections"].cell, member["subscriptions"].cell,
            ]
        }
        return Table(
            headers: ["NAME", "ADDRESS", "STATE", "INCARNATION", "CONNECTIONS", "SUBSCRIPTIONS"],
            rows: rows
        ).render()
    }

    static func channels(_ channels: JSONValue?) -> String {
        let list = channels?.arrayValue ?? []
        if list.isEmpty { return "(no channel has subscribers)" }
        let rows = list.map { [$0["channel"].cell, $0["subscribers"].cell, $0["nodes"].cell] }
        return Table(headers: ["CHANNEL", "SUBSCRIBERS", "NODES"], rows: rows).render()
    }

    /// The whole `status` output: the answering node, members, channels.
    static func status(_ status: JSONValue, node: String) -> String {
        let members = status["members"]?.arrayValue ?? []
        let alive = members.filter { $0["state"]?.stringValue == "alive" }.count
        return """
            node \(status["node"].cell) at \(node): \(members.count) member(s), \(alive) alive

            MEMBERS
            \(Self.members(status))

            CHANNELS
            \(Self.channels(status["channels"]))
            """
    }
}
