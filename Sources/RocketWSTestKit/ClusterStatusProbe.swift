import RocketWSClient

/// member name -> state (`alive`, `suspect`, `dead`, `left`) as the node behind `backend` reports it in
/// `cluster_status`; empty when it does not answer. Over a connection the caller keeps (no connection per poll).
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public func memberStates(_ backend: MessagesSourceClient) async -> [String: String] {
    await memberField("state", of: backend) { $0.stringValue }
}

/// member name -> incarnation as the node behind `backend` reports it in `cluster_status`.
public func memberIncarnations(_ backend: MessagesSourceClient) async -> [String: Int] {
    await memberField("incarnation", of: backend) { $0.intValue }
}

private func memberField<T>(_ field: String, of backend: MessagesSourceClient, _ read: (JSONValue) -> T?) async -> [String: T] {
    guard let status = try? await backend.call(method: "cluster_status"), let members = status["members"]?.arrayValue else { return [:] }
    var values: [String: T] = [:]
    for member in members {
        if let name = member["name"]?.stringValue, let value = member[field].flatMap(read) { values[name] = value }
    }
    return values
}
