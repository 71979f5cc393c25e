"""Station siting for planners: p-median and maximal covering, exact (HiGHS) and heuristic."""

from stations.siting.exact import exact_mclp, exact_pmedian
from stations.siting.heuristic import greedy, vns_pmedian
from stations.siting.orlib import PMED_OPTIMA, read_orlib
from stations.siting.problem import SitingError, SitingProblem, SitingResult
from stations.siting.solve import coverage_problem, solve_mclp, solve_pmedian

__all__ = [
    "PMED_OPTIMA",
    "SitingError",
    "SitingProblem",
    "SitingResult",
    "coverage_problem",
    "exact_mclp",
    "exact_pmedian",
    "greedy",
    "read_orlib",
    "solve_mclp",
    "solve_pmedian",
    "vns_pmedian",
]
