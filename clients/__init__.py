"""Reference clients (device SDK, CLI, web app). They know the server by HTTP alone and
import nothing from `server`."""
