import Testing

@testable import NodeServer

@Suite struct SubscriberListTests {
    final class Client {
        let id: Int
        init(_ id: Int) { self.id = id }
    }

    @Test func insertRemoveAndIterate() {
        let list = SubscriberList<Client>()
        let clients = (0..<100).map(Client.init)
        for client in clients { #expect(list.insert(client)) }
        #expect(!list.insert(clients[5]), "a second insert of the same client is refused")
        #expect(list.count == 100)
        for client in clients where client.id % 2 == 0 { #expect(list.remove(client)) }
        #expect(!list.remove(clients[0]), "removing twice is refused")
        #expect(list.count == 50)
        #expect(Set(list.members.map(\.id)) == Set(clients.filter { $0.id % 2 == 1 }.map(\.id)))
        for client in clients where client.id % 2 == 1 { #expect(list.remove(client)) }
        #expect(list.isEmpty)
    }
}
