import RocketWSClient
print("rocketws-admin")
