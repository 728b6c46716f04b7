import NodeServer
print("rocketws-node")
