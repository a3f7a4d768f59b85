from tests.goals.support import api as api
from tests.goals.support import clock as clock
